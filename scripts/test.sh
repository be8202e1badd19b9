#!/usr/bin/env bash
# make test: its own throw-away PostgreSQL and Redis on free ports, then the whole suite.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages
ensure_venv requirements-bench.txt  # the harness smoke test needs matplotlib + httpx
export PATH="$VENV/bin:$PATH"
TEST_DIR="$ROOT/.run/test-$$"

cleanup() {
  pg_stop "$TEST_DIR/pg"
  redis_stop "$TEST_DIR/redis"
  if [ -n "${TEST_KEEP_LOGS:-}" ]; then  # the processes' logs, for a failure to be read after
    mkdir -p "$TEST_KEEP_LOGS" && cp "$TEST_DIR"/*.log "$TEST_KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$TEST_DIR"
}
trap cleanup EXIT

pg_port="$(pg_start "$TEST_DIR/pg" "$(free_port)" offers fast)"
redis_port="$(redis_start "$TEST_DIR/redis" "$(free_port)")"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/offers"
export REDIS_URL="redis://127.0.0.1:$redis_port"
export TEST_RUN_DIR="$TEST_DIR"
export DJANGO_SETTINGS_MODULE=config.settings.local

log "running the test suite"
pytest "$@"
