#!/usr/bin/env bash
# make monitoring: Prometheus and Alertmanager (Debian's binaries) on 127.0.0.1, scraping the
# processes of a running `make run` (web /metrics on $PORT, each worker's exporter on
# WORKER_METRICS_PORT and +1), with the alert rules of monitoring/prometheus/alerts.yml and the
# Alertmanager config of monitoring/alertmanager/alertmanager.yml. Grafana is not installed
# locally: every dashboard panel's query is listed, linked to Prometheus' graph page, in
# $MONITORING_DIR/dashboards.html. Ctrl-C stops both.
#
#   PORT, WORKER_METRICS_PORT   as given to `make run` (8000, 9101)
#   WORKER_METRICS_PORTS        the worker exporters, if not "$WORKER_METRICS_PORT and +1"
#   METRICS_TOKEN               if web's /metrics asks for one
#   PROMETHEUS_PORT (9090), ALERTMANAGER_PORT (9093), MONITORING_DIR (.run/monitoring), SCRAPE_INTERVAL (15s)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages
PROMETHEUS_BIN="$(command -v prometheus || echo /usr/bin/prometheus)"
ALERTMANAGER_BIN="$(command -v prometheus-alertmanager || echo /usr/bin/prometheus-alertmanager)"

web_port="${PORT:-8000}"
worker_port="${WORKER_METRICS_PORT:-9101}"
worker_ports="${WORKER_METRICS_PORTS:-$worker_port $((worker_port + 1))}"
prometheus_port="${PROMETHEUS_PORT:-9090}"
alertmanager_port="${ALERTMANAGER_PORT:-9093}"
dir="${MONITORING_DIR:-$ROOT/.run/monitoring}"
scrape_interval="${SCRAPE_INTERVAL:-15s}"
mkdir -p "$dir/prometheus" "$dir/alertmanager"

cleanup() {
  trap - INT TERM EXIT
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# The same jobs, rules and Alertmanager as monitoring/prometheus/prometheus.yml, with the
# addresses of `make run` instead of compose's service names.
web_job="{job_name: web, metrics_path: /metrics"
if [ -n "${METRICS_TOKEN:-}" ]; then
  printf '%s' "$METRICS_TOKEN" > "$dir/metrics_token" && chmod 600 "$dir/metrics_token"
  web_job="$web_job, authorization: {credentials_file: \"$dir/metrics_token\"}"
fi
worker_targets="$(for port in $worker_ports; do printf '"127.0.0.1:%s", ' "$port"; done)"
cat > "$dir/prometheus.yml" <<EOF
# Written by scripts/monitoring.sh; edit monitoring/prometheus/prometheus.yml instead.
global: {scrape_interval: $scrape_interval, evaluation_interval: $scrape_interval}
rule_files: ["$ROOT/monitoring/prometheus/alerts.yml"]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$alertmanager_port"]}]
scrape_configs:
  - $web_job, static_configs: [{targets: ["127.0.0.1:$web_port"]}]}
  - job_name: worker
    static_configs: [{targets: [${worker_targets%, }]}]
EOF
promtool check config "$dir/prometheus.yml" >/dev/null
amtool check-config "$ROOT/monitoring/alertmanager/alertmanager.yml" >/dev/null
python3 -m monitoring.dashboards_index --prometheus "http://127.0.0.1:$prometheus_port" --out "$dir/dashboards.html"

# --cluster.listen-address= : a single Alertmanager, no gossip port on every interface.
"$ALERTMANAGER_BIN" --config.file="$ROOT/monitoring/alertmanager/alertmanager.yml" \
  --storage.path="$dir/alertmanager" --web.listen-address="127.0.0.1:$alertmanager_port" \
  --cluster.listen-address= >"$dir/alertmanager.log" 2>&1 &
"$PROMETHEUS_BIN" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
  --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$prometheus_port" \
  >"$dir/prometheus.log" 2>&1 &

ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null; }
for _ in $(seq 1 150); do
  ready "http://127.0.0.1:$prometheus_port/-/ready" && ready "http://127.0.0.1:$alertmanager_port/-/ready" && break
  if [ -z "$(jobs -rp)" ] || [ "$(jobs -rp | wc -l)" -lt 2 ]; then
    log "Prometheus or Alertmanager exited:"; tail -n 20 "$dir/prometheus.log" "$dir/alertmanager.log" >&2; exit 1
  fi
  sleep 0.2
done
ready "http://127.0.0.1:$web_port/health/" || log "nothing answers on 127.0.0.1:$web_port: start \`make run\` (same PORT) in another terminal"

log "Prometheus:   http://127.0.0.1:$prometheus_port  (targets: /targets, alerts: /alerts)"
log "Alertmanager: http://127.0.0.1:$alertmanager_port"
log "dashboards' queries (Grafana is not installed locally): file://$dir/dashboards.html"
log "scraping web 127.0.0.1:$web_port and workers ${worker_targets%, }; Ctrl-C stops"
wait -n
log "Prometheus or Alertmanager exited; logs in $dir"
exit 1
