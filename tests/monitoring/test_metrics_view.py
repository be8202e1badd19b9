"""/metrics in-process: open locally, bearer token when METRICS_TOKEN is set (production)."""
import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_metrics_are_open_locally_and_carry_the_platform_metrics(client):
    # when
    response = client.get("/metrics")

    # then
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("offers_queue_depth{queue=\"settlement\"}", "offers_oldest_pending_transaction_age_seconds",
                 "offers_workers_alive", "offers_dependency_up{dependency=\"database\"} 1.0",
                 "offers_sweeper_reenqueued_total", "django_http_requests_total_by_view_transport_method_total"):
        assert name in body, name


@override_settings(METRICS_TOKEN="a-metrics-token-0123456789")
@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    ({"HTTP_AUTHORIZATION": "Bearer wrong-token"}, 403),
    ({"HTTP_AUTHORIZATION": "Basic YTpi"}, 401),
])
def test_metrics_without_the_token_are_refused_under_production_settings(client, headers, status):
    # when
    response = client.get("/metrics", **headers)

    # then
    assert response.status_code == status
    assert set(response.json()) == {"code", "message", "details"}
    assert b"offers_" not in response.content


@override_settings(METRICS_TOKEN="a-metrics-token-0123456789")
def test_metrics_with_the_token_are_served(client):
    # when
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer a-metrics-token-0123456789")

    # then
    assert response.status_code == 200
    assert b"offers_queue_depth" in response.content


def test_production_settings_require_a_metrics_token():
    import subprocess
    import sys

    # when
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.production",
                                 "SECRET_KEY": "a-real-secret-of-sufficient-length-0123456789"})

    # then
    assert result.returncode != 0 and "METRICS_TOKEN" in result.stderr


def _sample(client, line_prefix: str) -> float:
    for line in client.get("/metrics").content.decode().splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_throttled_requests_are_counted_by_scope(client, api_client):
    # given
    from tests.factories import customer

    customer(username="throttled-metrics")
    metric = 'offers_throttled_requests_total{scope="login"}'
    before = _sample(client, metric)

    # when: the login throttle (10/min) refuses two attempts
    statuses = [api_client.post("/api/v1/auth/login/", {"username": "throttled-metrics", "password": "wrong"},
                                format="json").status_code for _ in range(12)]

    # then
    assert statuses.count(429) == 2
    assert _sample(client, metric) == before + 2


def test_idempotent_replays_and_conflicts_are_counted(client, api_client):
    # given
    from decimal import Decimal

    from tests.factories import OfferFactory, bearer, customer

    user = customer(balance="100.00")
    offer, other_offer = OfferFactory(price=Decimal("5.00")), OfferFactory(price=Decimal("6.00"))
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    replays = 'offers_idempotency_replays_total{kind="offer_activation"}'
    reused = 'offers_idempotency_conflicts_total{kind="offer_activation",reason="key_reused"}'
    before = [_sample(client, m) for m in (replays, reused)]

    # when: the same key twice with the same body, then with another body
    first = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = api_client.post("/api/v1/activation/", {"offer_id": other_offer.id}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k-1")

    # then
    assert [first.status_code, again.status_code, other.status_code] == [202, 202, 422]
    assert [_sample(client, m) for m in (replays, reused)] == [before[0] + 1, before[1] + 1]


def test_sections_for_models_of_other_issues_report_zeros_and_every_collector_works(client):
    # when
    body = client.get("/metrics").content.decode()

    # then: no section failed, and metrics of not-yet-existing models read 0 instead of nothing
    for section in ("broker", "transactions", "dependencies", "campaigns", "code_pools", "flash", "callbacks",
                    "notifications"):
        assert f'offers_collector_up{{collector="{section}"}} 1.0' in body, section
    for sample in ("offers_code_pools_remaining_codes", 'offers_flash_holds_total{outcome="created"}',
                   'offers_callback_attempts_total{outcome="failure"}',
                   'offers_notifications_total{channel="email",outcome="failed"}'):
        assert any(line.startswith(sample + " ") for line in body.splitlines()), sample
