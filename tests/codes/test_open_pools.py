"""GET codes/pools/open/: the pools a customer may claim from now, and the ones they
already hold a code of (their code shown)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.codes.models import CodePool
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from tests.codes.factories import BrandFactory
from tests.factories import bearer, customer


def claimed_by(user, pool) -> str:
    txn = Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED", txn.failure_code
    return txn.result["code"]


@pytest.mark.django_db
def test_open_pools_are_ready_in_their_window_with_codes_left_or_already_mine(api_client):
    # given
    now = timezone.now()
    brand = BrandFactory(name="Open brand")
    alice, bob = customer(username="alice"), customer(username="bob")

    def pool(name, total=2, **fields):
        return code_pool_create(brand=brand, name=name, total_count=total, **fields)

    open_now = pool("open", valid_until=now + timedelta(days=2))
    closing_soon = pool("closing soon", valid_from=now - timedelta(days=1), valid_until=now + timedelta(hours=1))
    mine = pool("mine")
    alices_code = claimed_by(alice, mine)
    claimed_by(bob, open_now)
    sold_out_mine = pool("sold out, one is mine", total=1)
    alices_last_code = claimed_by(alice, sold_out_mine)
    sold_out = pool("sold out", total=1)
    claimed_by(bob, sold_out)
    pool("not yet", valid_from=now + timedelta(days=1))
    expired = pool("expired", valid_from=now - timedelta(days=3), valid_until=now - timedelta(days=2))
    claimed_by(bob, pool("bob's only"))
    CodePool.objects.create(brand=brand, name="generating", total_count=5000, status=CodePool.Status.GENERATING)
    CodePool.objects.filter(pk=expired.pk).update(valid_until=now - timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=bearer(alice))

    # when
    response = api_client.get("/api/v1/codes/pools/open/")

    # then: soonest to close first, then newest
    assert response.status_code == 200
    body = response.json()
    assert [(p["name"], p["my_code"]) for p in body["results"]] == [
        ("closing soon", None), ("open", None), ("bob's only", None), ("sold out, one is mine", alices_last_code),
        ("mine", alices_code)]
    assert body["count"] == 5
    first = body["results"][1]
    assert (first["id"], first["brand"], first["remaining_count"]) == (open_now.id, "Open brand", 1)
    assert set(first) == {"id", "brand", "name", "description", "remaining_count", "valid_from", "valid_until",
                          "my_code"}
    assert closing_soon.id == body["results"][0]["id"]


@pytest.mark.django_db
def test_open_pools_are_paginated(api_client):
    # given
    brand = BrandFactory()
    for i in range(23):
        code_pool_create(brand=brand, name=f"p{i}", total_count=1)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(customer()))

    # when
    first = api_client.get("/api/v1/codes/pools/open/").json()
    second = api_client.get("/api/v1/codes/pools/open/?page=2").json()
    small = api_client.get("/api/v1/codes/pools/open/?page_size=5").json()
    bad = api_client.get("/api/v1/codes/pools/open/?page_size=0")

    # then
    assert first["count"] == 23 and len(first["results"]) == 20 and first["next"]
    assert len(second["results"]) == 3 and second["next"] is None
    assert len(small["results"]) == 5
    assert bad.status_code == 400
    assert len({p["id"] for p in first["results"] + second["results"]}) == 23
