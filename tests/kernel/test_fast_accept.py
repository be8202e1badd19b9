"""The accept fast path (kernel/fast_accept.py) answers what it serves as the route's DRF view
would, and leaves everything else to that view, having written and counted nothing."""
import json
import re

import pytest
import redis
from django.conf import settings

from activation.models import Transaction
from kernel import fast_accept, throttles
from offers.campaigns.models import Campaign
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db

URL = "/api/v1/activation/"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def paths(monkeypatch):
    """Which path answered each request: "fast", or "drf" when the fast path declined."""
    served = []
    real = fast_accept._fast

    def spy(*args, **kwargs):
        response = real(*args, **kwargs)
        served.append("drf" if response is None else "fast")
        return response

    monkeypatch.setattr(fast_accept, "_fast", spy)
    return served


def _drf_only(monkeypatch):
    monkeypatch.setattr(fast_accept, "_fast", lambda *args, **kwargs: None)


def _answer(response) -> tuple:
    """What a client sees, with the ids the two paths cannot share made equal."""
    headers = {name: UUID_TEXT.sub("<id>", response[name]) for name in
               ("Content-Type", "Location", "Idempotent-Replayed", "Allow", "WWW-Authenticate", "Retry-After")
               if response.has_header(name)}
    return response.status_code, UUID_TEXT.sub("<id>", response.content.decode()), headers


def _post(client, user, body, **headers):
    return client.post(URL, body, format="json", HTTP_AUTHORIZATION=bearer(user), **headers)


@pytest.mark.parametrize("case", ["plain", "campaign", "key", "replayed", "key_reused"])
def test_the_fast_path_answers_an_accept_as_the_drf_view_does(api_client, monkeypatch, paths, case):
    # given: the same request, by two customers alike, one through each path
    offer = OfferFactory()
    body = {"offer_id": offer.id}
    if case == "campaign":
        body["campaign_id"] = Campaign.objects.create(
            name="c", target="cart", kind="flat", value="1.00", currency=offer.currency, starts_on="2020-01-01",
            ends_on="2999-01-01", timezone="UTC", total_budget="100.00", status="active").id

    def request(user):
        if case == "key":
            return _post(api_client, user, body, HTTP_IDEMPOTENCY_KEY="k-1")
        if case in ("replayed", "key_reused"):
            _post(api_client, user, {"offer_id": offer.id}, HTTP_IDEMPOTENCY_KEY="k-2")
            again = {"offer_id": offer.id} if case == "replayed" else {"offer_id": OfferFactory().id}
            return _post(api_client, user, again, HTTP_IDEMPOTENCY_KEY="k-2")
        return _post(api_client, user, body)

    # when
    fast = request(customer(balance="50"))
    served_fast = list(paths)
    _drf_only(monkeypatch)
    drf = request(customer(balance="50"))

    # then
    assert set(served_fast) == {"fast"}
    assert _answer(fast)[0] == (422 if case == "key_reused" else 202)
    assert _answer(fast)[0] == _answer(drf)[0] and _answer(fast)[2] == _answer(drf)[2]
    assert json.loads(_answer(fast)[1]) == json.loads(_answer(drf)[1])


@pytest.mark.parametrize("body, headers, status", [
    ({"offer_id": "x"}, {}, 400),
    ({"offer_id": True}, {}, 400),
    ({"offer_id": 1, "extra": 1}, {}, 400),
    ({}, {}, 400),
    ([1], {}, 400),
    ({"offer_id": 0}, {}, 400),
    ({"offer_id": 999_999}, {}, 400),
    ({"offer_id": None}, {"HTTP_IDEMPOTENCY_KEY": "has space"}, 400),
    (None, {"HTTP_ACCEPT": "text/html"}, 406),
    (None, {"HTTP_AUTHORIZATION": "Bearer not-a-token"}, 401),
    (None, {"HTTP_AUTHORIZATION": ""}, 401),
])
def test_what_the_fast_path_does_not_serve_goes_to_the_drf_view_with_nothing_written(
        api_client, paths, body, headers, status):
    # given
    user, offer = customer(balance="50"), OfferFactory()
    body = {"offer_id": offer.id} if body is None else body
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    window = f"{throttles.KEY_PREFIX}throttle_transactions_{user.pk}"

    # when
    response = api_client.post(URL, body, format="json", **{"HTTP_AUTHORIZATION": bearer(user), **headers})

    # then: DRF's answer, and the request counted in the throttle windows once at most (by DRF)
    assert paths == ["drf"]
    assert response.status_code == status and response.json()["code"]
    assert Transaction.objects.count() == 0
    assert store.zcard(window) <= 1


def test_a_non_json_body_goes_to_the_drf_view(api_client, paths):
    # given
    user, offer = customer(balance="50"), OfferFactory()

    # when
    response = api_client.post(URL, f"offer_id={offer.id}", content_type="application/x-www-form-urlencoded",
                               HTTP_AUTHORIZATION=bearer(user))

    # then
    assert paths == ["drf"] and response.status_code == 415
    assert Transaction.objects.count() == 0


def test_an_accept_on_the_fast_path_is_counted_once_in_each_throttle_window(api_client, paths):
    # given
    user, offer = customer(balance="50"), OfferFactory()
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)

    # when
    responses = [_post(api_client, user, {"offer_id": offer.id}) for _ in range(3)]

    # then
    assert paths == ["fast"] * 3 and {r.status_code for r in responses} == {202}
    assert store.zcard(f"{throttles.KEY_PREFIX}throttle_user_{user.pk}") == 3
    assert store.zcard(f"{throttles.KEY_PREFIX}throttle_transactions_{user.pk}") == 3


def test_a_throttled_accept_on_the_fast_path_is_drfs_429_and_writes_nothing(api_client, monkeypatch, paths):
    # given: one transaction a minute
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "transactions", "1/min")
    user, other, offer = customer(balance="50"), customer(balance="50"), OfferFactory()
    _post(api_client, user, {"offer_id": offer.id})
    _post(api_client, other, {"offer_id": offer.id})

    # when
    fast = _post(api_client, user, {"offer_id": offer.id})
    _drf_only(monkeypatch)
    drf = _post(api_client, other, {"offer_id": offer.id})

    # then
    assert paths == ["fast"] * 3
    assert fast.status_code == drf.status_code == 429
    assert fast.json() == drf.json() and fast["Retry-After"] and drf["Retry-After"]
    assert Transaction.objects.count() == 2


def test_the_route_is_still_documented_by_its_drf_view(api_client):
    # when
    schema = api_client.get("/swagger.json").json()

    # then
    operation = schema["paths"]["/activation/"]["post"]
    assert {"202", "409", "422"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])


@pytest.mark.parametrize("prefix", ["/", "/behind-a-proxy/"])
def test_the_status_url_of_a_202_is_the_status_route_under_the_script_prefix(prefix):
    # given
    import uuid

    from django.urls import get_script_prefix, resolve, reverse, set_script_prefix

    from activation.api.accept import status_url

    transaction_id = uuid.uuid4()
    before = get_script_prefix()
    set_script_prefix(prefix)
    try:
        # when
        url = status_url(transaction_id)

        # then
        assert url == reverse("transaction-status", kwargs={"transaction_id": transaction_id})
        assert url.startswith(prefix)
    finally:
        set_script_prefix(before)
    match = resolve(url[len(prefix) - 1:])
    assert match.url_name == "transaction-status" and match.kwargs == {"transaction_id": transaction_id}
