"""Production settings pass Django's deployment checklist; CORS is closed unless configured."""
import secrets
import subprocess
import sys

import pytest
from django.test import override_settings

from tests.conftest import ROOT
from tests.factories import bearer, customer

PRODUCTION_ENV = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.production",
                  "METRICS_TOKEN": "a-metrics-token-for-the-test"}


def test_check_deploy_is_clean_under_production_settings():
    # given: production settings with real secrets, as a deployment sets them
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50), "JWT_SIGNING_KEY": secrets.token_urlsafe(50)}

    # when
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    # then: no warning at all, and nothing silenced
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("value,expected", [
    (None, []),
    ("", []),
    ("https://app.example.com, https://admin.example.com",
     ["https://app.example.com", "https://admin.example.com"]),
])
def test_cors_origins_come_from_the_environment(value, expected):
    # given
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}
    if value is not None:
        env["CORS_ALLOWED_ORIGINS"] = value

    # when
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from corsheaders.conf import conf; "
                               "print(repr(list(conf.CORS_ALLOWED_ORIGINS)), conf.CORS_ALLOW_ALL_ORIGINS)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{expected!r} False"


@pytest.mark.django_db
def test_cors_is_closed_by_default(api_client):
    # given
    token = bearer(customer())

    # when: a page on another origin reads the API, and preflights a write
    read = api_client.get("/api/v1/account/balance/", HTTP_ORIGIN="https://evil.example", HTTP_AUTHORIZATION=token)
    preflight = api_client.options("/api/v1/activation/", HTTP_ORIGIN="https://evil.example",
                                   HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    # then: no CORS header, so the browser withholds the response
    assert read.status_code == 200
    assert "Access-Control-Allow-Origin" not in read
    assert "Access-Control-Allow-Origin" not in preflight


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_allows_a_configured_origin_only(api_client):
    # given
    token = bearer(customer())

    # when
    allowed = api_client.get("/api/v1/account/balance/", HTTP_ORIGIN="https://app.example.com",
                             HTTP_AUTHORIZATION=token)
    preflight = api_client.options("/api/v1/activation/", HTTP_ORIGIN="https://app.example.com",
                                   HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                                   HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,idempotency-key")
    other = api_client.get("/api/v1/account/balance/", HTTP_ORIGIN="https://evil.example", HTTP_AUTHORIZATION=token)

    # then
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Credentials" not in allowed
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "idempotency-key" in preflight["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other
