import subprocess
import sys

import pytest

from tests.factories import PASSWORD, customer

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_documents_every_endpoint_with_202_and_the_error_shape(client):
    # when
    response = client.get("/swagger.json")

    # then
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in ["/auth/login/", "/auth/refresh/", "/auth/logout/", "/auth/profile/", "/offers/", "/offers/{id}/",
                 "/offers/expiring/", "/offers/renew/", "/activation/", "/activation/status/{transaction_id}/",
                 "/account/balance/", "/account/subscriptions/", "/account/transactions/",
                 "/account/transactions/{transaction_id}/"]:
        assert path in paths, path
    activation = paths["/activation/"]["post"]["responses"]
    assert "202" in activation and "400" in activation
    error = schema["definitions"]["Error"]["properties"]
    assert set(error) == {"code", "message", "details"}
    assert client.get("/swagger/").status_code == 200
    assert client.get("/redoc/").status_code == 200


def test_login_is_throttled_with_retry_after(api_client):
    # given: the login scope allows 10 attempts a minute
    customer(username="brute")

    # when
    statuses = [api_client.post("/api/v1/auth/login/", {"username": "brute", "password": "wrong"},
                                format="json").status_code for _ in range(12)]
    blocked = api_client.post("/api/v1/auth/login/", {"username": "brute", "password": PASSWORD}, format="json")

    # then
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert int(blocked["Retry-After"]) > 0


@pytest.mark.parametrize("env,message", [
    ({}, "SECRET_KEY"),
    ({"SECRET_KEY": "x" * 50, "DEBUG": "true"}, "DEBUG"),
    ({"SECRET_KEY": "x" * 50}, "METRICS_TOKEN"),
])
def test_production_settings_refuse_to_start_with_defaults(env, message):
    # when
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.production", **env})

    # then
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_start_with_a_real_secret():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.SECURE_HSTS_SECONDS, settings.ALLOW_DEMO_DATA)"],
        capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.production",
             "SECRET_KEY": "a-real-secret-of-sufficient-length-0123456789",
             "METRICS_TOKEN": "a-metrics-token-0123456789"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "False"]
