"""/health/ and /ready/: ready (200), degraded (200: Redis or the broker down, the instance
still serves) and not_ready (503: PostgreSQL down, measured in tests/faults/test_fail_fast.py),
on /ready/ and on /metrics alike."""
import socket
import time

import pytest
import requests

from tests.conftest import redis_server_start, redis_server_stop


def test_health_answers_without_io(client):
    response = client.get("/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_checks_postgres_redis_and_the_broker(client):
    response = client.get("/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


def _refusing_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"  # closed again: connecting is refused


@pytest.mark.django_db
@pytest.mark.parametrize("setting,down", [("CACHE_REDIS_URL", "redis"), ("CELERY_BROKER_URL", "broker")])
def test_redis_or_the_broker_unreachable_is_degraded_not_503(client, settings, setting, down):
    # given
    setattr(settings, setting, _refusing_url())

    # when
    response = client.get("/ready/")
    metrics = client.get("/metrics").content.decode()

    # then: the instance still serves, and says what is missing
    assert response.status_code == 200
    assert response.json() == {"status": "degraded",
                               "checks": {"database": "ok", "redis": "ok", "broker": "ok", down: "down"}}
    assert 'offers_readiness_state{state="degraded"} 1.0' in metrics
    assert 'offers_readiness_state{state="ready"} 0.0' in metrics
    assert f'offers_dependency_up{{dependency="{down}"}} 0.0' in metrics


@pytest.mark.e2e
def test_ready_is_degraded_while_redis_is_stopped_and_ready_when_it_is_back(live_stack):
    # given
    web, worker = live_stack
    assert requests.get(f"{web.url}/ready/", timeout=10).json()["status"] == "ready"

    # when
    redis_server_stop()
    try:
        started = time.monotonic()
        down = requests.get(f"{web.url}/ready/", timeout=10)
        took = time.monotonic() - started
        metrics = requests.get(f"{web.url}/metrics", timeout=30).text
    finally:
        redis_server_start()

    # then: 200 degraded (a load balancer keeps the instance), quickly, and visible on /metrics
    assert down.status_code == 200, down.text
    assert down.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "down", "broker": "down"}}
    assert took < 1.5, took
    assert 'offers_readiness_state{state="degraded"} 1.0' in metrics
    assert 'offers_dependency_up{dependency="broker"} 0.0' in metrics
    print(f"\n[faults] redis stopped: /ready/ 200 degraded in {took:.3f} s")
    assert requests.get(f"{web.url}/ready/", timeout=10).json()["status"] == "ready"
    worker.wait_ready()
