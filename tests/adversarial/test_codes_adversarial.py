"""Adversarial: codes at checkout against claim reversals."""
from decimal import Decimal

import pytest

from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from kernel.errors import ConflictError
from offers.campaigns.models import CampaignRedemption
from offers.campaigns.rules import Cart
from offers.campaigns.services import discount_redemption_request
from offers.codes.models import DiscountCode
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import customer


def settled(txn) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def pool_with_discount(total=5):
    campaign = CampaignFactory(value=Decimal("7.00"), requires_code=True)
    pool = code_pool_create(brand=BrandFactory(), name="checkout", total_count=total)
    pool.campaign = campaign
    pool.save(update_fields=["campaign"])
    return pool


def claim(user, pool) -> Transaction:
    txn = settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id}))
    assert txn.status == "SUCCEEDED", txn.failure_code
    return txn


def redeem_code(user, code_text, order) -> Transaction:
    code = DiscountCode.objects.select_related("pool").get(code=code_text)
    accepted = discount_redemption_request(user_id=user.id, campaign_ids=[], code=code, order_reference=order,
                                           cart=Cart(Decimal("50.00"), Decimal("0"), "EUR"), idempotency_key=None)
    return settled(accepted.transaction)


def staff_reverse(txn) -> Transaction:
    staff = customer(is_staff=True)
    return transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)


@pytest.mark.django_db
def test_reversing_the_claim_of_a_code_already_used_at_checkout_is_refused():
    """A code used at checkout is spent: reversing its claim must not put it back in the pool
    (it would go out as a dud to the next claimer while its discount stays live), nor let
    the first holder claim a second, fresh code of the same pool."""
    alice = customer()
    pool = pool_with_discount()
    first_claim = claim(alice, pool)
    used = redeem_code(alice, first_claim.result["code"], "order-1")
    assert used.status == "SUCCEEDED"

    with pytest.raises(ConflictError):
        staff_reverse(first_claim)


@pytest.mark.django_db
def test_after_a_used_codes_claim_is_reversed_nobody_gets_a_dud_and_nobody_gets_two_discounts():
    """The same scenario, checking what actually happens to the money if the reversal is
    allowed: bob claims alice's spent code (unusable), alice claims a fresh one and gets the
    code-only discount a second time while the first is still live."""
    alice, bob = customer(), customer()
    pool = pool_with_discount()
    first_claim = claim(alice, pool)
    assert redeem_code(alice, first_claim.result["code"], "order-1").status == "SUCCEEDED"
    try:
        staff_reverse(first_claim)
    except ConflictError:
        return  # refused: the fix

    bobs = claim(bob, pool)
    bobs_redemption = redeem_code(bob, bobs.result["code"], "bob-1")
    alices_second = claim(alice, pool)
    alices_redemption = redeem_code(alice, alices_second.result["code"], "order-2")

    problems = []
    if bobs.result["code"] == first_claim.result["code"]:
        problems.append(f"bob was handed alice's spent code; his redemption: {bobs_redemption.failure_code}")
    live = CampaignRedemption.objects.filter(user=alice, campaign=pool.campaign, reversed_at=None).count()
    if live > 1:
        problems.append(f"alice holds {live} live discounts of the code-only campaign "
                        f"(second: {alices_redemption.status})")
    assert not problems, problems


@pytest.mark.django_db
def test_a_code_reused_after_the_customers_own_reversal_respects_the_daily_limit():
    alice = customer()
    pool = pool_with_discount()
    pool.campaign.max_uses_per_customer_per_day = 1
    pool.campaign.save(update_fields=["max_uses_per_customer_per_day"])
    code = claim(alice, pool).result["code"]
    first = redeem_code(alice, code, "o1")
    transaction_reverse(transaction_id=first.id, requested_by_id=alice.id, as_staff=False)
    again = redeem_code(alice, code, "o2")
    assert again.failure_code == "daily_limit_reached"
    assert DiscountCode.objects.get(code=code).used_at is None  # refused: not spent


@pytest.mark.django_db
def test_a_code_whose_pool_lost_its_discount_after_the_request_spends_nothing():
    alice = customer()
    pool = pool_with_discount()
    code_text = claim(alice, pool).result["code"]
    code = DiscountCode.objects.select_related("pool").get(code=code_text)
    accepted = discount_redemption_request(user_id=alice.id, campaign_ids=[], code=code, order_reference="o",
                                           cart=Cart(Decimal("50.00"), Decimal("0"), "EUR"), idempotency_key=None)
    campaign = pool.campaign
    pool.campaign = None
    pool.save(update_fields=["campaign"])
    txn = settled(accepted.transaction)
    assert txn.status == "FAILED", txn.result
    campaign.refresh_from_db()
    assert campaign.spent_amount == 0 and DiscountCode.objects.get(pk=code.pk).used_at is None


@pytest.mark.django_db
def test_two_redemptions_of_one_code_in_one_batch_spend_it_once():
    alice = customer()
    pool = pool_with_discount()
    code = DiscountCode.objects.select_related("pool").get(code=claim(alice, pool).result["code"])
    txns = [discount_redemption_request(user_id=alice.id, campaign_ids=[], code=code, order_reference=f"o{i}",
                                        cart=Cart(Decimal("50.00"), Decimal("0"), "EUR"),
                                        idempotency_key=None).transaction for i in range(3)]
    transactions_settle(transaction_id=txns[0].id, batch_size=10)
    statuses = sorted(Transaction.objects.get(pk=t.id).status for t in txns)
    assert statuses == ["FAILED", "FAILED", "SUCCEEDED"]
    assert CampaignRedemption.objects.filter(campaign=pool.campaign, reversed_at=None).count() == 1
