#!/usr/bin/env bash
# make run: the whole service in the foreground (web, settlement worker, notifications
# worker, beat). Ctrl-C stops everything this script started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages
ensure_venv requirements.txt
export PATH="$VENV/bin:$PATH"
export PORT="${PORT:-8000}"
RUN_DIR="$ROOT/.run/dev"
started_pg="" started_redis=""

STOP_FLAG="$RUN_DIR/.stopping"
CHILDREN="$RUN_DIR/.children"
rm -f "$STOP_FLAG" "$CHILDREN"

# Keeps a Celery process running, as systemd's Restart=always or compose's restart policy
# would: a worker can exit on a broker outage (a kombu bug when it restores unacked messages
# on a lost connection); nothing is lost (acks_late, the sweeper), it just has to come back.
supervise() {
  while [ ! -f "$STOP_FLAG" ]; do
    "$@" &
    echo $! >> "$CHILDREN"
    wait $! || true
    [ -f "$STOP_FLAG" ] && break
    log "$1 $2 $3 $4 exited; restarting in 2 s"
    sleep 2
  done
}

cleanup() {
  trap - INT TERM EXIT
  log "stopping"
  mkdir -p "$RUN_DIR" && touch "$STOP_FLAG"
  [ -f "$CHILDREN" ] && kill $(cat "$CHILDREN") 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$started_pg" ] && pg_stop "$RUN_DIR/pg"
  [ -n "$started_redis" ] && redis_stop "$RUN_DIR/redis"
}
trap cleanup INT TERM EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  pg_port="$(pg_start "$RUN_DIR/pg" "${PG_PORT:-54329}" offers)"
  started_pg=1
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/offers"
fi
if [ -z "${REDIS_URL:-}" ]; then
  redis_port="$(redis_start "$RUN_DIR/redis" "${REDIS_PORT:-63799}")"
  started_redis=1
  export REDIS_URL="redis://127.0.0.1:$redis_port"
fi

python manage.py migrate --noinput
python manage.py collectstatic --noinput -v 0
python manage.py seed_demo

# Metrics (prometheus_client multiprocess mode): one directory per process type, emptied
# here because files of a previous run would be summed in forever. Web: /metrics on $PORT.
# Each worker: its own exporter on WORKER_METRICS_PORT (settlement) and +1 (notifications).
METRICS_DIR="$RUN_DIR/metrics"
rm -rf "$METRICS_DIR" && mkdir -p "$METRICS_DIR/web" "$METRICS_DIR/worker-settlement" "$METRICS_DIR/worker-notifications"
worker_metrics_port="${WORKER_METRICS_PORT:-9101}"

log "web on http://127.0.0.1:$PORT  (API docs: /swagger/, admin: /admin/, metrics: /metrics)"
log "worker metrics on http://127.0.0.1:$worker_metrics_port/metrics and :$((worker_metrics_port + 1))/metrics"
PROMETHEUS_MULTIPROC_DIR="$METRICS_DIR/web" gunicorn config.asgi:application -c config/gunicorn.conf.py &
PROMETHEUS_MULTIPROC_DIR="$METRICS_DIR/worker-settlement" WORKER_METRICS_PORT="$worker_metrics_port" \
  supervise celery -A config worker -Q settlement -c "${SETTLEMENT_CONCURRENCY:-3}" -n "settlement@%h" --loglevel INFO &
PROMETHEUS_MULTIPROC_DIR="$METRICS_DIR/worker-notifications" WORKER_METRICS_PORT="$((worker_metrics_port + 1))" \
  supervise celery -A config worker -Q notifications,callbacks,default -c "${NOTIFICATION_CONCURRENCY:-2}" -n "notifications@%h" --loglevel INFO &
supervise celery -A config beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO \
  --pidfile "$RUN_DIR/celerybeat.pid" &
wait -n
