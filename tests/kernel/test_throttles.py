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

    # then
    assert sum(allowed for allowed, _ in results) == 7
    assert all(0 < wait <= 60 for allowed, wait in results if not allowed)


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
