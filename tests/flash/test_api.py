"""Flash promo endpoints: staff CRUD, eligible/running lists, bad input, and the live
stack (hold lapsing on its own, complete contract, start fan-out on the notifications queue)."""
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from activation.models import Transaction
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation, Product
from offers.flash.services import flash_promo_start_fanout, flash_promo_update
from tests.codes.factories import customers_bulk
from tests.factories import SegmentFactory, bearer, customer
from tests.flash.factories import STORE_LON, ProductFactory, latitude_north_of_store, running_promo
from tests.helpers import wait_until_terminal


def wait_for(predicate, timeout: float = 30, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met after {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def staff(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=bearer(customer(username="ops", is_staff=True)))
    return api_client


def promo_body(product, segment, **overrides):
    now = timezone.now()
    body = {"product_id": product.id, "promo_price": "49.00", "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "segment_ids": [segment.id], "radius_km": "5",
            "quantity": 3}
    return {**body, **overrides}


@pytest.mark.django_db
def test_staff_create_a_store_a_product_and_a_promo_that_customers_see(staff, api_client):
    # given
    gold = SegmentFactory(slug="gold")

    # when
    store = staff.post("/api/v1/market/stores/", {"name": "Paris 1", "address": "Rivoli",
                                                  "latitude": "48.856600", "longitude": "2.352200"}, format="json")
    product = staff.post("/api/v1/market/products/", {"store_id": store.json()["id"], "name": "TV",
                                                      "regular_price": "100.00"}, format="json")
    promo = staff.post("/api/v1/promotions/flash-promos/",
                       promo_body(Product.objects.get(pk=product.json()["id"]), gold), format="json")
    patched = staff.patch(f"/api/v1/promotions/flash-promos/{promo.json()['id']}/", {"quantity": 4}, format="json")
    me = customer(segment=gold, latitude=latitude_north_of_store(1), longitude=STORE_LON)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(me))
    eligible = api_client.get("/api/v1/promotions/flash-promos/eligible/")
    running = api_client.get("/api/v1/promotions/flash-promos/running/")
    forbidden = api_client.post("/api/v1/market/stores/", {"name": "x", "latitude": "1", "longitude": "1"},
                                format="json")

    # then
    assert (store.status_code, product.status_code, promo.status_code) == (201, 201, 201), promo.json()
    assert promo.json()["hold_seconds"] == 60 and promo.json()["units_left"] == 3
    assert patched.status_code == 200 and patched.json()["units_left"] == 4
    assert [p["id"] for p in eligible.json()["results"]] == [promo.json()["id"]]
    assert [p["id"] for p in running.json()["results"]] == [promo.json()["id"]]
    assert forbidden.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("overrides", [
    {"quantity": 0},
    {"quantity": -1},
    {"radius_km": "-1"},
    {"radius_km": "0"},
    {"segment_ids": []},
    {"segment_ids": [999999]},
    {"promo_price": "150.00"},
    {"ends_at": "2000-01-01T00:00:00Z"},
    {"hold_seconds": 0},
    {"product_id": 999999},
    {"colour": "red"},
])
def test_bad_promo_input_is_a_400_and_writes_nothing(staff, overrides):
    # given
    product, gold = ProductFactory(), SegmentFactory(slug="gold")

    # when
    response = staff.post("/api/v1/promotions/flash-promos/", promo_body(product, gold, **overrides), format="json")

    # then
    assert response.status_code == 400, response.json()
    assert set(response.json()) == {"code", "message", "details"}
    assert FlashPromo.objects.count() == 0


@pytest.mark.django_db
def test_reserving_an_unknown_promo_or_completing_someone_elses_hold_is_a_4xx_and_writes_nothing(api_client):
    # given
    gold = SegmentFactory(slug="gold")
    promo = running_promo(segments=[gold])
    owner, intruder = customer(), customer()
    reservation = FlashReservation.objects.create(promo=promo, user=owner, transaction_id=
                                                  "00000000-0000-0000-0000-000000000001",
                                                  expires_at=timezone.now() + timedelta(minutes=1))
    api_client.credentials(HTTP_AUTHORIZATION=bearer(intruder))

    # when
    unknown = api_client.post("/api/v1/promotions/reservations/", {"promo_id": 999999}, format="json")
    malformed = api_client.post("/api/v1/promotions/reservations/", {"promo_id": "x"}, format="json")
    foreign = api_client.post(f"/api/v1/promotions/reservations/{reservation.id}/complete/", {}, format="json")

    # then
    assert (unknown.status_code, malformed.status_code, foreign.status_code) == (400, 400, 404)
    assert Transaction.objects.count() == 0
    reservation.refresh_from_db()
    assert reservation.status == "held"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_hold_lapses_by_itself_frees_the_unit_and_the_last_completion_sells_out(live_stack):
    # given: one unit with a short hold, yet long enough for a loaded machine to get the next
    # request settled (bob refused) and a holder's completion in before it lapses
    web, worker = live_stack
    gold = SegmentFactory(slug="gold")
    promo = running_promo(segments=[gold], quantity=1, hold_seconds=6)
    alice, bob, carol = (customer(username=n, segment=gold, latitude=latitude_north_of_store(2), longitude=STORE_LON,
                                  balance="100.00")
                         for n in ("alice", "bob", "carol"))
    h = {u.username: {"Authorization": bearer(u)} for u in (alice, bob, carol)}

    def reserve(name):
        response = requests.post(f"{web.url}/api/v1/promotions/reservations/", json={"promo_id": promo.id},
                                 headers=h[name])
        assert response.status_code == 202, response.text
        return wait_until_terminal([response.json()["transaction_id"]])[0]

    # when: alice holds the unit, nobody touches it, the worker expires it
    held = reserve("alice")
    sold_out = reserve("bob")
    reservation_id = held.result["reservation_id"]
    wait_for(lambda: FlashReservation.objects.get(pk=reservation_id).status == "expired", 60, "hold expired")
    bob_holds = reserve("bob")
    late = requests.post(f"{web.url}/api/v1/promotions/reservations/{reservation_id}/complete/", json={},
                         headers=h["alice"])
    done = requests.post(f"{web.url}/api/v1/promotions/reservations/{bob_holds.result['reservation_id']}/complete/",
                         json={}, headers=h["bob"])
    after = reserve("carol")
    worker.wait_idle(("offers.flash.",))  # bob's expiry message (a no-op now) leaves the worker before the next test

    # then
    assert held.status == "SUCCEEDED" and sold_out.failure_code == "sold_out"
    assert bob_holds.status == "SUCCEEDED"
    assert late.status_code == 409 and late.json()["code"] == "hold_expired"
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert after.failure_code == "sold_out"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_start_fanout_reaches_every_eligible_customer_exactly_once_and_no_one_else(live_stack):
    # given: 25 eligible customers and ineligible ones by segment, distance and missing location
    _, worker = live_stack
    gold, silver = SegmentFactory(slug="gold"), SegmentFactory(slug="silver")
    eligible = customers_bulk(25, prefix="in", segment=gold, latitude=latitude_north_of_store(4.9),
                              longitude=STORE_LON)
    customers_bulk(5, prefix="far", segment=gold, latitude=latitude_north_of_store(5.1), longitude=STORE_LON)
    customers_bulk(5, prefix="silver", segment=silver, latitude=latitude_north_of_store(1), longitude=STORE_LON)
    customers_bulk(5, prefix="nowhere", segment=gold)

    # when: the promo is created to start in 4 s, then moved to start in 2 s (rescheduled)
    promo = running_promo(segments=[gold], radius_km="5", starts_in=timedelta(seconds=4))
    promo = flash_promo_update(promo=promo, starts_at=timezone.now() + timedelta(seconds=2))
    wait_for(lambda: FlashPromoNotice.objects.filter(promo=promo).count() >= 25, 30, "fan-out")
    worker.wait_idle(("offers.flash.",))  # the stale message for the old start fires meanwhile, as a no-op
    again = flash_promo_start_fanout(promo_id=promo.id, chunk_size=4)  # a redelivered start message

    # then
    notified = list(FlashPromoNotice.objects.filter(promo=promo).values_list("user_id", flat=True))
    assert sorted(notified) == sorted(u.id for u in eligible)
    assert again == 0
    promo.refresh_from_db()
    assert promo.start_notified_at is not None
