"""Code pool endpoints: staff/brand management, CSV export, claims through the real
web process and worker, and bad input."""
import csv
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from activation.models import Transaction
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import code_pool_create
from tests.codes.factories import BrandFactory
from tests.factories import bearer, customer
from tests.helpers import wait_until_terminal


@pytest.fixture
def brand_staff():
    user = customer(username="brandie")
    brand = BrandFactory(name="Acme")
    brand.staff.add(user)
    return user, brand


@pytest.mark.django_db
def test_brand_staff_create_a_pool_and_list_it_with_remaining_counts(api_client, brand_staff):
    # given
    user, brand = brand_staff
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when
    created = api_client.post("/api/v1/codes/pools/", {"brand_id": brand.id, "name": "Spring", "total_count": 250},
                              format="json")
    listed = api_client.get("/api/v1/codes/pools/")
    detail = api_client.get(f"/api/v1/codes/pools/{created.json()['id']}/")

    # then
    assert created.status_code == 201, created.json()
    assert DiscountCode.objects.filter(pool_id=created.json()["id"]).count() == 250
    assert listed.json()["results"][0]["remaining_count"] == 250
    assert detail.json()["total_count"] == 250 and detail.json()["brand"] == "Acme"


@pytest.mark.django_db
def test_a_customer_who_is_not_brand_staff_cannot_create_or_see_pools(api_client, brand_staff):
    # given
    _, brand = brand_staff
    pool = code_pool_create(brand=brand, name="Hidden", total_count=3)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(customer()))

    # when
    created = api_client.post("/api/v1/codes/pools/", {"brand_id": brand.id, "name": "X", "total_count": 5},
                              format="json")
    listed = api_client.get("/api/v1/codes/pools/")
    detail = api_client.get(f"/api/v1/codes/pools/{pool.id}/")
    export = api_client.get(f"/api/v1/codes/pools/{pool.id}/export.csv")

    # then
    assert created.status_code == 403
    assert listed.json()["results"] == []
    assert detail.status_code == 404 and export.status_code == 404
    assert CodePool.objects.count() == 1


@pytest.mark.django_db
def test_export_lists_who_claimed_what_and_when(api_client, brand_staff):
    # given
    from django.utils import timezone

    user, brand = brand_staff
    pool = code_pool_create(brand=brand, name="Export", total_count=3)
    claimer = customer(username="claimer")
    code = DiscountCode.objects.filter(pool=pool).first()
    DiscountCode.objects.filter(pk=code.pk).update(claimed_by=claimer, claimed_at=timezone.now())
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when
    response = api_client.get(f"/api/v1/codes/pools/{pool.id}/export.csv")

    # then
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3
    claimed = [r for r in rows if r["claimed_by_username"]]
    assert [(r["code"], r["claimed_by_username"]) for r in claimed] == [(code.code, "claimer")]
    assert claimed[0]["claimed_at"]


@pytest.mark.django_db
def test_a_client_that_accepts_only_csv_gets_the_export_and_errors_in_json(api_client, brand_staff):
    # given
    user, brand = brand_staff
    pool = code_pool_create(brand=brand, name="Export", total_count=2)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when
    export = api_client.get(f"/api/v1/codes/pools/{pool.id}/export.csv", HTTP_ACCEPT="text/csv")
    missing = api_client.get(f"/api/v1/codes/pools/{pool.id + 1}/export.csv", HTTP_ACCEPT="text/csv")

    # then: the CSV (it was a 406), and a refusal in the one error shape
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 3
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert set(missing.json()) == {"code", "message", "details"}


BAD_POOLS = [
    {"name": "x", "total_count": 0},
    {"name": "x", "total_count": -5},
    {"name": "x", "total_count": 10_000_001},
    {"name": "x", "total_count": "many"},
    {"total_count": 5},
    {"name": "x", "total_count": 5, "unknown": 1},
    {"name": "x", "total_count": 5, "valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", BAD_POOLS)
def test_bad_pool_input_is_a_400_and_writes_nothing(api_client, brand_staff, body):
    # given
    user, brand = brand_staff
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))

    # when
    response = api_client.post("/api/v1/codes/pools/", {"brand_id": brand.id, **body}, format="json")

    # then
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}
    assert CodePool.objects.count() == 0 and DiscountCode.objects.count() == 0


@pytest.mark.django_db
def test_claiming_an_unknown_pool_is_a_404_and_writes_nothing(api_client):
    # given
    api_client.credentials(HTTP_AUTHORIZATION=bearer(customer()))

    # when
    response = api_client.post("/api/v1/codes/pools/999999/claim/", {}, format="json")
    unknown_field = api_client.post("/api/v1/codes/pools/999999/claim/", {"x": 1}, format="json")

    # then
    assert response.status_code == 404 and unknown_field.status_code == 400
    assert Transaction.objects.count() == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_customers_claim_through_the_live_stack_and_see_their_codes(live_stack):
    # given: a pool of 5 and 12 customers, one of whom claims twice
    web, _ = live_stack
    pool = code_pool_create(brand=BrandFactory(), name="Live", total_count=5)
    users = [customer(username=f"live{i}") for i in range(12)]
    headers = [{"Authorization": bearer(u), "Idempotency-Key": f"claim-{i}"} for i, u in enumerate(users)]

    def claim(h):
        return requests.post(f"{web.url}/api/v1/codes/pools/{pool.id}/claim/", json={}, headers=h)

    # when
    with ThreadPoolExecutor(max_workers=12) as executor:
        responses = list(executor.map(claim, headers))
    assert [r.status_code for r in responses] == [202] * 12
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses])
    first_winner = next(t for t in txns if t.status == "SUCCEEDED")
    winner_headers = {"Authorization": bearer(first_winner.user)}
    again = requests.post(f"{web.url}/api/v1/codes/pools/{pool.id}/claim/", json={}, headers=winner_headers)
    again_txn = wait_until_terminal([again.json()["transaction_id"]])[0]
    mine = requests.get(f"{web.url}/api/v1/codes/mine/", headers=winner_headers).json()

    # then
    assert sorted(t.status for t in txns).count("SUCCEEDED") == 5
    assert {t.failure_code for t in txns if t.status == "FAILED"} == {"sold_out"}
    assert again_txn.status == "SUCCEEDED" and again_txn.result["code"] == first_winner.result["code"]
    assert [c["code"] for c in mine["results"]] == [first_winner.result["code"]]
    status = requests.get(f"{web.url}/api/v1/activation/status/{first_winner.id}/", headers=winner_headers).json()
    assert status["result"]["code"] == first_winner.result["code"]
