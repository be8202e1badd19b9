"""Client addresses cannot be forged: the web server (gunicorn + uvicorn) believes X-Forwarded-For
only from the proxies in FORWARDED_ALLOW_IPS (none by default), and DRF takes the address it
resolved as it is. Over the real server: a client that varies X-Forwarded-For still meets the
login throttle (10/min, then 429 with Retry-After)."""
import os
import subprocess
import sys

import pytest
import requests
from django.conf import settings

from tests.conftest import LiveWeb

# The live server uses the test database: pytest-django sets it up only for a session whose
# tests ask for it.
pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


def logins(url: str, forwarded_for: list[str]) -> list[requests.Response]:
    """One wrong-password login per X-Forwarded-For value, in order."""
    return [requests.post(f"{url}{LOGIN}", json={"username": "nobody", "password": "wrong"},
                          headers={"X-Forwarded-For": address}, timeout=30) for address in forwarded_for]


def test_drf_takes_the_address_the_server_resolved():
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


def test_num_proxies_in_the_environment_is_refused():
    # when: a deployment still configured the old way
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], capture_output=True, text=True,
                            env={**os.environ, "NUM_PROXIES": "1", "DJANGO_SETTINGS_MODULE": "config.settings.local"})

    # then
    assert result.returncode != 0 and "FORWARDED_ALLOW_IPS" in result.stderr


@pytest.mark.e2e
def test_varying_x_forwarded_for_does_not_reset_the_login_throttle(live_web):
    # when: 12 attempts from one client, each naming another address
    responses = logins(live_web.url, [f"203.0.113.{i}" for i in range(1, 13)])

    # then
    assert [r.status_code for r in responses] == [401] * 10 + [429] * 2
    assert responses[10].json()["code"] == "throttled" and int(responses[10].headers["Retry-After"]) >= 1


@pytest.mark.e2e
def test_a_listed_proxy_is_believed(live_env):
    # given: a web server told that 127.0.0.1 is its proxy
    web = LiveWeb({**live_env, "FORWARDED_ALLOW_IPS": "127.0.0.1"})
    web.start()
    try:
        # when: 11 attempts for one client behind it, then one for another client
        first = logins(web.url, ["198.51.100.7"] * 11)
        other = logins(web.url, ["198.51.100.8"])
    finally:
        web.stop()

    # then: each client has its own window
    assert [r.status_code for r in first] == [401] * 10 + [429]
    assert [r.status_code for r in other] == [401]
