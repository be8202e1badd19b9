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

cleanup() {
  trap - INT TERM EXIT
  log "stopping"
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

log "web on http://127.0.0.1:$PORT  (API docs: /swagger/, admin: /admin/)"
gunicorn config.asgi:application -c config/gunicorn.conf.py &
celery -A config worker -Q settlement -c "${SETTLEMENT_CONCURRENCY:-2}" -n "settlement@%h" --loglevel INFO &
celery -A config worker -Q notifications,callbacks,default -c "${NOTIFICATION_CONCURRENCY:-2}" -n "notifications@%h" --loglevel INFO &
celery -A config beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO \
  --pidfile "$RUN_DIR/celerybeat.pid" &
wait -n
