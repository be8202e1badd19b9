"""Codes at checkout: a code of a pool that carries a discount is checked (`codes/validate/`)
and redeemed inside an order, once, by the customer who holds it."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.codes.models import DiscountCode
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import bearer, customer
from tests.helpers import run_at_once, wait_until_terminal


def settled(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def pool_with_discount(**fields):
    campaign = CampaignFactory(value=Decimal("7.00"), min_cart_value=Decimal("20.00"), requires_code=True,
                               **{k: v for k, v in fields.items() if k in ("is_stackable",)})
    pool = code_pool_create(brand=BrandFactory(), name="checkout", total_count=5,
                            **{k: v for k, v in fields.items() if k in ("valid_from", "valid_until")})
    pool.campaign = campaign
    pool.save(update_fields=["campaign"])
    return pool


def code_of(user, pool) -> str:
    claim = settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id}))
    assert claim.status == "SUCCEEDED", claim.failure_code
    return claim.result["code"]


def check(api_client, user, code, cart_value="50.00", **extra):
    response = api_client.post("/api/v1/codes/validate/", {"code": code, "cart_value": cart_value, **extra},
                               format="json", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 200, response.content
    return response.json()


def redeem(api_client, user, code, order="order-1", cart_value="50.00"):
    response = api_client.post("/api/v1/discounts/redeem/",
                               {"code": code, "cart_value": cart_value, "order_reference": order},
                               format="json", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202, response.content
    return settled(Transaction.objects.get(pk=response.json()["transaction_id"]))


@pytest.mark.django_db
def test_validate_says_why_a_code_cannot_be_used(api_client):
    # given
    alice, bob = customer(), customer()
    pool = pool_with_discount()
    mine, theirs = code_of(alice, pool), code_of(bob, pool)
    free = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=True).first().code
    expired_pool = pool_with_discount(valid_from=timezone.now() - timedelta(days=2),
                                      valid_until=timezone.now() + timedelta(seconds=1))
    expiring = code_of(alice, expired_pool)  # held, then the pool's window closes
    expired_pool.valid_until = timezone.now() - timedelta(seconds=1)
    expired_pool.save(update_fields=["valid_until"])

    # when / then
    assert check(api_client, alice, mine) == {"code": mine, "valid": True, "reasons": [],
                                              "campaign_id": pool.campaign_id, "discount": "7.00", "currency": "EUR"}
    assert check(api_client, alice, mine.lower())["valid"] is True
    assert check(api_client, alice, "ZZZZZZZZZZZZ")["reasons"] == ["unknown_code"]
    assert check(api_client, alice, theirs)["reasons"] == ["code_not_yours"]
    assert check(api_client, alice, free)["reasons"] == ["code_not_yours"]
    assert check(api_client, alice, expiring)["reasons"] == ["code_expired"]
    assert check(api_client, alice, mine, cart_value="10.00")["reasons"] == ["below_min_cart_value"]
    assert check(api_client, alice, mine, currency="JPY")["reasons"] == ["currency_mismatch"]
    assert redeem(api_client, alice, mine).status == "SUCCEEDED"
    assert check(api_client, alice, mine)["reasons"] == ["code_used"]


@pytest.mark.django_db
def test_a_code_redeemed_in_an_order_gives_its_discount_once(api_client):
    # given
    alice = customer()
    pool = pool_with_discount()
    code = code_of(alice, pool)

    # when: redeemed, then again in another order
    first = redeem(api_client, alice, code)
    second = redeem(api_client, alice, code, order="order-2")

    # then
    assert first.status == "SUCCEEDED" and first.result["discount"] == "7.00"
    assert second.status == "FAILED" and second.failure_code == "code_used"
    spent = DiscountCode.objects.get(code=code)
    assert spent.used_transaction_id == first.id and spent.used_at is not None
    pool.campaign.refresh_from_db()
    assert pool.campaign.spent_amount == Decimal("7.00") and pool.campaign.uses_count == 1


@pytest.mark.django_db
def test_a_code_only_campaign_never_applies_without_its_code(api_client):
    # given
    alice = customer()
    pool = pool_with_discount()

    # when: the campaign redeemed by id, and listed as available
    response = api_client.post("/api/v1/discounts/redeem/",
                               {"campaign_id": pool.campaign_id, "cart_value": "50.00", "order_reference": "o"},
                               format="json", HTTP_AUTHORIZATION=bearer(alice))
    txn = settled(Transaction.objects.get(pk=response.json()["transaction_id"]))
    available = api_client.post("/api/v1/discounts/available/?explain=true", {"cart_value": "50.00"},
                                format="json", HTTP_AUTHORIZATION=bearer(alice)).json()

    # then
    assert txn.failure_code == "code_required"
    assert {c["campaign_id"]: c["reasons"] for c in available["not_applicable"]}[pool.campaign_id] == ["code_required"]


@pytest.mark.django_db
def test_someone_elses_code_is_refused_at_settlement_and_spends_nothing(api_client):
    alice, bob = customer(), customer()
    pool = pool_with_discount()
    txn = redeem(api_client, bob, code_of(alice, pool))
    assert txn.failure_code == "code_not_yours"
    pool.campaign.refresh_from_db()
    assert pool.campaign.spent_amount == 0


@pytest.mark.django_db
def test_a_reversed_code_redemption_gives_the_code_back(api_client):
    alice = customer()
    pool = pool_with_discount()
    code = code_of(alice, pool)
    first = redeem(api_client, alice, code)
    assert api_client.post(f"/api/v1/account/transactions/{first.id}/reverse/",
                           HTTP_AUTHORIZATION=bearer(alice)).status_code == 200
    assert DiscountCode.objects.get(code=code).used_at is None
    assert redeem(api_client, alice, code, order="order-2").status == "SUCCEEDED"


@pytest.mark.django_db
def test_redeem_with_an_unknown_code_is_a_400_that_writes_nothing(api_client):
    alice = customer()
    response = api_client.post("/api/v1/discounts/redeem/",
                               {"code": "ZZZZZZZZZZZZ", "cart_value": "50.00", "order_reference": "o"},
                               format="json", HTTP_AUTHORIZATION=bearer(alice))
    assert response.status_code == 400 and "code" in response.json()["details"]
    assert not Transaction.objects.filter(kind="discount_redemption").exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_of_one_code_exactly_one_succeeds():
    # given: one code, twelve redemptions of it in twelve orders
    from offers.campaigns.rules import Cart
    from offers.campaigns.services import discount_redemption_request

    alice = customer()
    pool = pool_with_discount()
    code = DiscountCode.objects.select_related("pool").get(code=code_of(alice, pool))
    txns = [discount_redemption_request(user_id=alice.id, campaign_ids=[], code=code, order_reference=f"o-{i}",
                                        cart=Cart(Decimal("50.00"), Decimal("0"), "EUR"),
                                        idempotency_key=None).transaction for i in range(12)]

    # when: each settled by its own thread, all at once
    run_at_once(lambda txn: transactions_settle(transaction_id=txn.id, batch_size=1), [(t,) for t in txns])

    # then
    final = wait_until_terminal([t.id for t in txns])
    assert sum(t.status == "SUCCEEDED" for t in final) == 1
    assert {t.failure_code for t in final if t.status == "FAILED"} == {"code_used"}
    pool.campaign.refresh_from_db()
    assert pool.campaign.spent_amount == Decimal("7.00")
