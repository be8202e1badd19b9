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
