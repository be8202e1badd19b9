"""The accept fast path (kernel/fast_accept.py) answers what it serves as the route's DRF view
would, and leaves everything else to that view, having written and counted nothing."""
import json
import re

import pytest
import redis
from django.conf import settings

from activation.models import Transaction
from kernel import fast_accept, throttles
from offers.codes.services import code_pool_create
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, bearer, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db

URL = "/api/v1/activation/"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def paths(monkeypatch):
    """Which path answered each request: "fast", or "drf" when the fast path declined."""
    served = []
    real = fast_accept._fast

    def spy(*args, **kwargs):
        try:
            response = real(*args, **kwargs)
        except Exception:
            served.append("fast")  # answered by the fast path's error handling
            raise
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


def _activation(user, *, other: bool = False):
    return URL, {"offer_id": OfferFactory().id if other else _shared("offer", OfferFactory).id}


def _activation_with_campaign(user, *, other: bool = False):
    offer = OfferFactory() if other else _shared("offer", OfferFactory)
    campaign = _shared("campaign", lambda: CampaignFactory(currency=offer.currency))  # EUR, as OfferFactory's
    return URL, {"offer_id": offer.id, "campaign_id": campaign.id}


def _redemption(user, *, other: bool = False):
    campaign = _shared("campaign", CampaignFactory)
    return "/api/v1/discounts/redeem/", {"campaign_id": campaign.id, "cart_value": "40",
                                        "order_reference": "other" if other else "order-1"}


def _code_claim(user, *, other: bool = False):
    pool = (code_pool_create(brand=BrandFactory(), name="q", total_count=10) if other else
            _shared("pool", lambda: code_pool_create(brand=BrandFactory(), name="p", total_count=10)))
    return f"/api/v1/codes/pools/{pool.id}/claim/", {}


def _code_claim_unknown_pool(user, *, other: bool = False):
    return "/api/v1/codes/pools/999999/claim/", {}


def _reservation(user, *, other: bool = False):
    promo = running_promo(segments=[], quantity=5) if other else _shared("promo", lambda: running_promo(segments=[],
                                                                                                       quantity=5))
    return "/api/v1/promotions/reservations/", {"promo_id": promo.id}


_SHARED: dict = {}


def _shared(name, make):
    if name not in _SHARED:
        _SHARED[name] = make()
    return _SHARED[name]


@pytest.fixture(autouse=True)
def shared_forgotten():
    _SHARED.clear()
    yield
    _SHARED.clear()


ROUTES = {"activation": _activation, "activation_with_campaign": _activation_with_campaign,
          "redemption": _redemption, "code_claim": _code_claim, "code_claim_unknown_pool": _code_claim_unknown_pool,
          "reservation": _reservation}


@pytest.mark.parametrize("case", ["plain", "key", "replayed", "key_reused"])
@pytest.mark.parametrize("route", ROUTES)
def test_the_fast_path_answers_an_accept_as_the_drf_view_does(api_client, monkeypatch, paths, route, case):
    # given: the same requests, by two customers alike, one through each path
    def request(user):
        url, body = ROUTES[route](user)
        if case == "plain":
            return _post_to(api_client, url, user, body)
        if case == "key":
            return _post_to(api_client, url, user, body, HTTP_IDEMPOTENCY_KEY="k-1")
        _post_to(api_client, url, user, body, HTTP_IDEMPOTENCY_KEY="k-2")
        if case == "key_reused":
            url, body = ROUTES[route](user, other=True)
        return _post_to(api_client, url, user, body, HTTP_IDEMPOTENCY_KEY="k-2")

    def alike():
        return customer(balance="100", latitude=latitude_north_of_store(1), longitude=STORE_LON)

    # when
    fast = request(alike())
    served_fast = list(paths)
    _drf_only(monkeypatch)
    drf = request(alike())

    # then
    assert set(served_fast) == {"fast"}
    expected = 404 if route == "code_claim_unknown_pool" else 422 if case == "key_reused" else 202
    assert fast.status_code == drf.status_code == expected, (fast.content, drf.content)
    assert _answer(fast)[2] == _answer(drf)[2]
    assert json.loads(_answer(fast)[1]) == json.loads(_answer(drf)[1])


def _post_to(client, url, user, body, **headers):
    return client.post(url, body, format="json", HTTP_AUTHORIZATION=bearer(user), **headers)


@pytest.mark.parametrize("body, headers, status", [
    ({"offer_id": "x"}, {}, 400),
    ({"offer_id": True}, {}, 400),
    ({"offer_id": 1, "extra": 1}, {}, 400),
    ({}, {}, 400),
    ([1], {}, 400),
    ({"offer_id": 0}, {}, 400),
    ({"offer_id": 999_999}, {}, 400),
    (None, {"HTTP_IDEMPOTENCY_KEY": "has space"}, 400),  # a valid body, a key DRF refuses
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


@pytest.mark.parametrize("failure", ["database", "redis"])
def test_a_dependency_down_on_the_fast_path_is_drfs_503(api_client, monkeypatch, paths, failure):
    # given: the accept's write fails as with PostgreSQL or Redis down
    from django.db import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    error = OperationalError("server closed the connection") if failure == "database" else RedisConnectionError("down")

    def down(**kwargs):
        raise error

    monkeypatch.setattr("offers.api.views.offer_activation_request", down)
    offer = OfferFactory()

    # when
    fast = _post(api_client, customer(balance="50"), {"offer_id": offer.id})
    _drf_only(monkeypatch)
    drf = _post(api_client, customer(balance="50"), {"offer_id": offer.id})

    # then
    assert paths == ["fast"]
    assert fast.status_code == drf.status_code == 503
    assert fast.json() == drf.json() and fast["Retry-After"] == drf["Retry-After"]
    assert _answer(fast)[2] == _answer(drf)[2]


def test_a_view_whose_permissions_refuse_is_answered_by_drf_and_accepts_nothing(paths):
    # given: an accept view only staff may use, behind the fast path
    from rest_framework.permissions import IsAdminUser
    from rest_framework.test import APIRequestFactory

    from offers.api.serializers import ActivationRequestSerializer
    from offers.api.views import OfferActivateApi

    class StaffOnlyActivateApi(OfferActivateApi):
        permission_classes = [IsAdminUser]

    accepted = []
    view = fast_accept.fast_accept_view(StaffOnlyActivateApi, serializer_class=ActivationRequestSerializer,
                                        key_from=lambda request: None,
                                        accept=lambda *args, **kwargs: accepted.append(args) or (202, {}, {}))
    request = APIRequestFactory().post(URL, {"offer_id": OfferFactory().id}, format="json",
                                       HTTP_AUTHORIZATION=bearer(customer(balance="50")))

    # when
    response = view(request)

    # then
    assert paths == ["drf"] and response.status_code == 403
    assert accepted == [] and Transaction.objects.count() == 0


def test_a_view_not_authenticated_by_bearer_tokens_cannot_have_the_fast_path():
    from django.core.exceptions import ImproperlyConfigured
    from rest_framework.authentication import SessionAuthentication

    from offers.api.serializers import ActivationRequestSerializer
    from offers.api.views import OfferActivateApi

    class SessionActivateApi(OfferActivateApi):
        authentication_classes = [SessionAuthentication]

    with pytest.raises(ImproperlyConfigured):
        fast_accept.fast_accept_view(SessionActivateApi, serializer_class=ActivationRequestSerializer,
                                     key_from=lambda request: None, accept=lambda *args, **kwargs: None)
