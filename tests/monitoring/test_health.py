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
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


@pytest.mark.e2e
def test_ready_is_503_while_redis_is_stopped_and_200_when_it_is_back(live_stack):
    # given
    web, worker = live_stack
    assert requests.get(f"{web.url}/ready/").status_code == 200

    # when / then
    redis_server_stop()
    try:
        down = requests.get(f"{web.url}/ready/", timeout=10)
        assert down.status_code == 503
        assert down.json()["code"] == "not_ready"
        assert down.json()["details"]["redis"] == "down"
    finally:
        redis_server_start()
    assert requests.get(f"{web.url}/ready/").status_code == 200
    worker.wait_ready()
