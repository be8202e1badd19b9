.PHONY: run test bench migrate shell monitoring-check monitoring

run:            ## the whole service: PostgreSQL, Redis, web, workers, beat
	@scripts/run.sh

test:           ## the whole test suite against its own PostgreSQL, Redis and Celery worker
	@scripts/test.sh $(ARGS)

bench:          ## the benchmark harness (scripts/bench.sh; ARGS="--smoke" for a quick run)
	@scripts/bench.sh $(ARGS)

shell:
	@.venv/bin/python manage.py shell

monitoring-check: ## promtool and amtool: Prometheus config, alert rules, the alert unit tests, Alertmanager config
	@cd monitoring/prometheus && promtool check config prometheus.yml && promtool check rules alerts.yml \
	  && promtool test rules alerts.test.yml
	@amtool check-config monitoring/alertmanager/alertmanager.yml

monitoring:     ## Prometheus and Alertmanager on 127.0.0.1 against a running `make run` (scripts/monitoring.sh)
	@scripts/monitoring.sh
