#!/usr/bin/env bash
# make bench: its own PostgreSQL (synchronous_commit=on) and Redis (appendonly everysec) under
# .run/bench-*, then `python -m bench` starts the web server and settlement workers, drives
# the load and writes bench/results/<date>/. Arguments go to the harness (--smoke, --only P1).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages
ensure_venv requirements-bench.txt
export PATH="$VENV/bin:$PATH"
BENCH_DIR="$ROOT/.run/bench-$$"

cleanup() {
  pg_stop "$BENCH_DIR/pg"
  redis_stop "$BENCH_DIR/redis"
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

export PG_SYNCHRONOUS_COMMIT=on REDIS_APPENDONLY=yes
pg_port="$(pg_start "$BENCH_DIR/pg" "$(free_port)" offers)"
redis_port="$(redis_start "$BENCH_DIR/redis" "$(free_port)")"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/offers"
export REDIS_URL="redis://127.0.0.1:$redis_port"
export DJANGO_SETTINGS_MODULE=config.settings.production DEBUG=0 SECURE_SSL_REDIRECT=0
export SECRET_KEY="${SECRET_KEY:-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')}"
export METRICS_TOKEN="${METRICS_TOKEN:-$(python -c 'import secrets; print(secrets.token_urlsafe(24))')}"

log "migrating"
python manage.py migrate --noinput -v 0
log "running the harness (progress below)"
python -m "${BENCH_MODULE:-bench}" "$@"  # BENCH_MODULE=bench.profile_settle: the settle profiler
