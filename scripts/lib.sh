#!/usr/bin/env bash
# Shared bootstrap for `make run`, `make test` and `make bench`: system packages, the
# virtualenv, and PostgreSQL / Redis as local processes with data under .run/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    log "need root to run: $*"; return 1; fi
}

# Debian packages the stack needs: redis-server, prometheus (promtool, `make monitoring`),
# prometheus-alertmanager (amtool), PostgreSQL 15 server, chromium + chromium-driver (browser
# tests), a Java 17 runtime (openapi-generator builds the schema's client in the tests) and wrk
# (the benchmark's load generator).
ensure_system_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v promtool >/dev/null || missing+=(prometheus)
  pg_bindir >/dev/null 2>&1 || missing+=(postgresql-15)
  # Headless Chromium and its driver for the browser tests of the operator surfaces.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v wrk >/dev/null || missing+=(wrk)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {  # $1: requirements file
  local req="$1" stamp
  if [ ! -x "$PY" ]; then
    log "creating virtualenv .venv"
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip >/dev/null
  fi
  stamp="$(cat "$ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)-$(basename "$req")"
  if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
    log "installing Python packages from $(basename "$req")"
    "$PY" -m pip install -q -r "$ROOT/$req"
    echo "$stamp" > "$VENV/.installed"
  fi
}

pg_bindir() {
  local dir
  for dir in "${PG_BIN:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

# PostgreSQL refuses to run as root: as root we run it as the `postgres` account.
pg_run() {
  if [ "$(id -u)" = 0 ]; then runuser -u "${PG_OS_USER:-postgres}" -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {  # $1: data dir, $2: port, $3: database name, $4: "fast" for a throw-away server
  local data="$1" port="$2" db="$3" mode="${4:-}" bin opts
  bin="$(pg_bindir)"
  mkdir -p "$(dirname "$data")"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL in ${data#$ROOT/}"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown "${PG_OS_USER:-postgres}" "$data"
    chmod 700 "$data"
    pg_run "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if pg_run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "PostgreSQL already running in ${data#$ROOT/}"
  else
    opts="-p $port -c listen_addresses=127.0.0.1 -k $data -c max_connections=${PG_MAX_CONNECTIONS:-200}"
    opts="$opts -c shared_buffers=256MB -c synchronous_commit=${PG_SYNCHRONOUS_COMMIT:-on}"
    [ "$mode" = fast ] && opts="$opts -c fsync=off -c full_page_writes=off"
    log "starting PostgreSQL on 127.0.0.1:$port"
    pg_run "$bin/pg_ctl" -D "$data" -o "$opts" -l "$data/server.log" -w -t 30 start >/dev/null
  fi
  port="$(head -4 "$data/postmaster.pid" | tail -1)"
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='$db'" postgres | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  fi
  echo "$port"
}

pg_stop() {  # $1: data dir
  local bin; bin="$(pg_bindir)"
  [ -f "$1/postmaster.pid" ] && pg_run "$bin/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}

redis_start() {  # $1: data dir, $2: port
  local dir="$1" port="$2"
  mkdir -p "$dir"
  if [ -f "$dir/redis.port" ] && redis-cli -p "$(cat "$dir/redis.port")" ping >/dev/null 2>&1; then
    log "Redis already running in ${dir#$ROOT/}"
    cat "$dir/redis.port"; return 0
  fi
  log "starting Redis on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" --appendonly "${REDIS_APPENDONLY:-yes}" --appendfsync everysec --save "" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "$port" > "$dir/redis.port"
  echo "$port"
}

redis_stop() {  # $1: data dir
  [ -f "$1/redis.port" ] && redis-cli -p "$(cat "$1/redis.port")" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$1/redis.port"
}
