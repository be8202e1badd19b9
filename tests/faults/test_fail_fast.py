"""Failing fast and honestly, measured on the live gunicorn/uvicorn process: while PostgreSQL is
down a request that needs it is a 503 with Retry-After in the error shape within a second (the
database circuit of kernel/db_backend), and it is served again as soon as PostgreSQL is back;
while Redis is down the API and admin logins are still throttled (kernel/throttles.py counts
them in the process). Figures are printed for docs/RELIABILITY.md."""
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from accounts.models import User

from tests.conftest import postgres_server_start, postgres_server_stop, redis_server_start, redis_server_stop
from tests.factories import PASSWORD, bearer, customer

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The circuit answers in milliseconds; generous for a loaded 2-core machine, and still short of
# the pool's timeout (DB_POOL_TIMEOUT, 2 s), which is what a request without the circuit waits.
FAST = 1.5


def timed(method: str, url: str, **kwargs) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    return time.monotonic() - started, response


def test_while_postgres_is_down_requests_and_ready_answer_503_at_once_and_recover(live_stack):
    # given: a customer, and both web processes warm (each has pooled connections)
    web, _ = live_stack
    headers = {"Authorization": bearer(customer())}
    balance = f"{web.url}/api/v1/account/balance/"
    for _ in range(8):
        assert requests.get(balance, headers=headers, timeout=30).status_code == 200

    # when: PostgreSQL stops; 8 requests at once (new connections: both processes get some),
    # then, one after the other, the API and /ready/ just after and again 1.5 s later (the
    # circuit has probed and stayed open meanwhile)
    postgres_server_stop()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            down = list(pool.map(lambda _: timed("GET", balance, headers=headers), range(8)))
        for pause in (0, 1.5):
            time.sleep(pause)
            down += [timed("GET", f"{web.url}/ready/") for _ in range(3)]
            down += [timed("POST", f"{web.url}/api/v1/activation/", json={"offer_id": 1}, headers=headers)
                     for _ in range(3)]
        scrape_took, metrics = timed("GET", f"{web.url}/metrics")
    finally:
        postgres_server_start()
        connection.close()
    started = time.monotonic()
    while requests.get(balance, headers=headers, timeout=30).status_code != 200:
        assert time.monotonic() - started < 60, "not served again 60 s after PostgreSQL is back"
        time.sleep(0.05)
    served_again_after = time.monotonic() - started

    # then: every one a 503 in the error shape with Retry-After, none waiting on the pool; served
    # again within a probe or two of PostgreSQL's return
    seconds = sorted(elapsed for elapsed, _ in down)
    print(f"\n[faults] postgres down: {len(down)} requests (8 at once, then /ready/ and the API one by one), "
          f"statuses {sorted({r.status_code for _, r in down})}, median {seconds[len(seconds) // 2]:.3f} s, "
          f"max {seconds[-1]:.3f} s; served again {served_again_after:.2f} s after PostgreSQL was back")
    for elapsed, response in down:
        assert response.status_code == 503, response.text
        assert set(response.json()) == {"code", "message", "details"}
        assert int(response.headers["Retry-After"]) >= 1
        assert elapsed <= FAST, f"{response.request.method} {response.url}: {elapsed:.2f} s"
    ready = next(response.json() for _, response in down if response.url.endswith("/ready/"))
    assert ready["code"] == "not_ready"
    assert ready["details"] == {"database": "down", "redis": "ok", "broker": "ok"}
    assert 'offers_readiness_state{state="not_ready"} 1.0' in metrics.text
    assert 'offers_dependency_up{dependency="database"} 0.0' in metrics.text
    assert scrape_took <= FAST, scrape_took
    assert served_again_after < 3


def test_while_redis_is_down_admin_and_api_logins_are_still_throttled(live_stack):
    # given: a staff user; one keep-alive connection, so one web process counts every attempt
    # (each process counts on its own while Redis is down)
    web, worker = live_stack
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    session = requests.Session()
    admin_login = f"{web.url}/admin/login/"

    # when: Redis stops; 11 wrong passwords on the admin's form, then the right one on the API
    redis_server_stop()
    try:
        page = session.get(admin_login, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        admin = [session.post(admin_login, data={"username": "boss", "password": f"wrong-{i}",
                                                 "csrfmiddlewaretoken": token},
                              headers={"Referer": admin_login}, timeout=30) for i in range(11)]
        api = session.post(f"{web.url}/api/v1/auth/login/", json={"username": "boss", "password": PASSWORD},
                           timeout=30)
        ready = session.get(f"{web.url}/ready/", timeout=30)
    finally:
        redis_server_start()

    # then: the admin's form answered 10 times (the login page again), then 429 with Retry-After, not
    # a 500; the API's login shares the client's window and refuses even the right password
    print(f"\n[faults] redis down: admin login {[r.status_code for r in admin]}, then API login {api.status_code} "
          f"(Retry-After {api.headers.get('Retry-After')}); /ready/ {ready.status_code} {ready.json()['status']}")
    assert page.status_code == 200
    assert [r.status_code for r in admin] == [200] * 10 + [429]
    assert int(admin[10].headers["Retry-After"]) >= 1
    assert api.status_code == 429 and api.json()["code"] == "throttled" and int(api.headers["Retry-After"]) >= 1
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    worker.wait_ready()
