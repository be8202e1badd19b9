"""Throttles count atomically in Redis: exact under concurrency, sliding window, fail open."""
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings

from kernel.throttles import KEY_PREFIX, _sliding_windows_hit


def _sliding_window_hit(key: str, *, window: int, limit: int) -> tuple[bool, float]:
    return _sliding_windows_hit([(key, window, limit)])[0]


@pytest.fixture
def window_key():
    key = "test:exact"
    redis.Redis.from_url(settings.CACHE_REDIS_URL).delete(KEY_PREFIX + key)
    return key


def test_50_parallel_hits_on_a_limit_of_7_let_exactly_7_through(window_key):
    # when: 50 requests of one client at once (DRF's read-then-write history let extra ones pass)
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(lambda _: _sliding_window_hit(window_key, window=60, limit=7), range(50)))

    # then (each thread reads the clock before its call runs, so on a loaded machine a wait may
    # pass the window by that delay)
    assert sum(allowed for allowed, _ in results) == 7
    assert all(0 < wait <= 61 for allowed, wait in results if not allowed)


def test_a_slot_frees_when_the_oldest_request_leaves_the_window(window_key, monkeypatch):
    # given: a full window, on a clock the test moves (with the wall clock and a 1 s window,
    # a stall of a loaded machine between the hits aged the first out before the third)
    now = time.time()
    monkeypatch.setattr("kernel.throttles.time", SimpleNamespace(time=lambda: now))
    assert _sliding_window_hit(window_key, window=60, limit=2)[0]
    assert _sliding_window_hit(window_key, window=60, limit=2)[0]
    allowed, wait = _sliding_window_hit(window_key, window=60, limit=2)
    assert not allowed and 59 < wait <= 60

    # when: just short of the window, then just past it
    now += wait - 0.05
    too_soon = _sliding_window_hit(window_key, window=60, limit=2)[0]
    now += 0.1

    # then
    assert not too_soon
    assert _sliding_window_hit(window_key, window=60, limit=2)[0]


@pytest.mark.django_db
def test_a_request_counts_its_user_and_scope_windows_in_one_call(api_client, monkeypatch):
    # given: a customer allowed 5 requests a minute in all and 3 transactions a minute
    from rest_framework.throttling import SimpleRateThrottle

    from kernel import throttles
    from tests.factories import OfferFactory, bearer, customer

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "5/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "transactions", "3/min")
    calls, refusals = [], []
    real = throttles._sliding_windows_hit
    monkeypatch.setattr(throttles, "_sliding_windows_hit", lambda windows: calls.append(windows) or real(windows))
    user, offer = customer(), OfferFactory()

    def on_request_throttled(sender, scope, **kwargs):
        refusals.append(scope)

    throttles.request_throttled.connect(on_request_throttled)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when: four activations
    try:
        responses = [api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json")
                     for _ in range(4)]
    finally:
        throttles.request_throttled.disconnect(on_request_throttled)

    # then: the fourth is refused by the transactions window with DRF's Retry-After (and the
    # refusal signalled once, for that scope); each request made one Redis call for both
    # windows, and (as with DRF's throttles one after the other) the user window counted the
    # refused request too
    assert [r.status_code for r in responses] == [202, 202, 202, 429]
    assert refusals == ["transactions"]
    assert responses[3].json()["code"] == "throttled" and 0 < int(responses[3]["Retry-After"]) <= 61
    assert [[key for key, _, _ in windows] for windows in calls] == [[f"throttle_user_{user.pk}",
                                                                      f"throttle_transactions_{user.pk}"]] * 4
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    assert store.zcard(f"{throttles.KEY_PREFIX}throttle_user_{user.pk}") == 4
    assert store.zcard(f"{throttles.KEY_PREFIX}throttle_transactions_{user.pk}") == 3


# --- Redis unreachable: login scopes counted in this process, the others open ------------------

@pytest.fixture
def store_unreachable(monkeypatch):
    """The Redis store client aimed at a port nothing listens on (every call is refused, as in
    an outage), and this process's fallback windows empty."""
    import socket

    from kernel import redis_store, throttles

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(redis_store, "_client", redis.Redis(port=port, socket_connect_timeout=0.5,
                                                            retry=settings.REDIS_NO_RETRY))
    monkeypatch.setattr(throttles, "_local_windows", throttles.LocalSlidingWindows())


@pytest.mark.django_db
def test_while_redis_is_down_the_api_and_admin_logins_are_still_throttled(client, store_unreachable):
    # given
    from django.urls import reverse

    from tests.factories import PASSWORD, customer

    customer(username="brute")
    login = "/api/v1/auth/login/"

    # when: 11 wrong passwords, the right one, then the admin's login form from the same client
    wrong = [client.post(login, {"username": "brute", "password": "nope"}, content_type="application/json")
             for _ in range(11)]
    right = client.post(login, {"username": "brute", "password": PASSWORD}, content_type="application/json")
    admin = client.post(reverse("admin:login"), {"username": "boss", "password": "nope"})

    # then: the login rate (10/min) holds, with DRF's answer, and the admin shares the client's window
    assert [r.status_code for r in wrong] == [401] * 10 + [429]
    assert right.status_code == 429 and right.json()["code"] == "throttled" and int(right["Retry-After"]) >= 1
    assert admin.status_code == 429 and int(admin["Retry-After"]) >= 1


@pytest.mark.django_db
def test_while_redis_is_down_other_scopes_fail_open(api_client, store_unreachable, monkeypatch):
    # given: a customer allowed 2 transactions a minute
    from rest_framework.throttling import SimpleRateThrottle

    from tests.factories import OfferFactory, bearer, customer

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "transactions", "2/min")
    user, offer = customer(), OfferFactory()
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when
    statuses = [api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json").status_code
                for _ in range(4)]

    # then: accepting durable transactions comes first
    assert statuses == [202] * 4


def test_local_windows_slide_like_the_redis_ones_and_keep_the_recently_used(monkeypatch):
    # given: a clock the test moves
    from kernel.throttles import LocalSlidingWindows

    now = 1000.0
    monkeypatch.setattr("kernel.throttles.time", SimpleNamespace(time=lambda: now))
    windows = LocalSlidingWindows(max_keys=3)

    # when / then: 2 a minute, refused with the wait until the oldest leaves
    assert windows.hit([("a", 60, 2)]) == [(True, 0.0)]
    now += 10
    assert windows.hit([("a", 60, 2)]) == [(True, 0.0)]
    assert windows.hit([("a", 60, 2), ("b", 60, 2)]) == [(False, 50.0), (True, 0.0)]
    now += 50.01
    assert windows.hit([("a", 60, 2)])[0][0]

    # when: more keys than it holds ("a" used last, "b" least recently)
    windows.hit([("c", 60, 1)])
    windows.hit([("a", 60, 2)])
    windows.hit([("d", 60, 1)])

    # then: "b" was dropped, "a" kept its full window
    assert set(windows._windows) == {"a", "c", "d"}
    assert windows.hit([("a", 60, 2)])[0] == (False, pytest.approx(10.0, abs=0.02))
