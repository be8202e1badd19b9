.PHONY: run test bench migrate shell monitoring-check

run:            ## the whole service: PostgreSQL, Redis, web, workers, beat
	@scripts/run.sh

test:           ## the whole test suite against its own PostgreSQL, Redis and Celery worker
	@scripts/test.sh $(ARGS)

bench:          ## the benchmark harness (scripts/bench.sh; ARGS="--smoke" for a quick run)
	@scripts/bench.sh $(ARGS)

shell:
	@.venv/bin/python manage.py shell

monitoring-check: ## promtool: Prometheus config, alert rules and the alert unit tests
	@cd monitoring/prometheus && promtool check config prometheus.yml && promtool check rules alerts.yml \
	  && promtool test rules alerts.test.yml
