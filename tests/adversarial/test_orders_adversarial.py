"""Found by an adversarial review (each failed before its fix): orders, daily limits across paths and reversals, mixed batches, currencies."""
from decimal import Decimal

import pytest
from django.db.models import Sum

from accounts.models import Account, LedgerEntry
from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.services import KIND_OFFER_ACTIVATION
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import OfferFactory, customer


def settle(txn, batch_size=1) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=batch_size)
    txn.refresh_from_db()
    return txn


def pending_activation(user, offer, campaign=None) -> Transaction:
    return Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price,
                                      currency=offer.currency,
                                      payload={"offer_id": offer.id, **({"campaign_id": campaign.id} if campaign else {})})


def invariants(*users) -> None:
    for campaign in Campaign.objects.all():
        live = CampaignRedemption.objects.filter(campaign=campaign, reversed_at=None)
        assert campaign.spent_amount == (live.aggregate(s=Sum("amount"))["s"] or 0) <= campaign.total_budget
        assert campaign.uses_count == live.count()
        if campaign.max_total_uses is not None:
            assert campaign.uses_count <= campaign.max_total_uses
    for user in users:
        account = Account.objects.get(user=user)
        ledger = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        assert ledger == account.balance >= 0
    rows = CampaignRedemption.objects.filter(reversed_at=None).values("user_id", "order_reference", "campaign__target",
                                                                      "cart_value", "delivery_charge")
    totals: dict = {}
    for r in rows:
        key = (r["user_id"], r["order_reference"], r["campaign__target"])
        base = r["cart_value"] if r["campaign__target"] == "cart" else r["delivery_charge"]
        totals.setdefault(key, [Decimal("0"), base])
    for r in CampaignRedemption.objects.filter(reversed_at=None).values("user_id", "order_reference",
                                                                          "campaign__target", "amount"):
        totals[(r["user_id"], r["order_reference"], r["campaign__target"])][0] += r["amount"]
    for key, (total, base) in totals.items():
        assert total <= base, (key, total, base)


def day_uses(user, campaign) -> int:
    """Redemptions that count towards today's limit: live ones and the customer's own reversals."""
    return CampaignRedemption.objects.filter(user=user, campaign=campaign).exclude(
        reversed_at__isnull=False, reversal_keeps_daily_use=False).count()


@pytest.mark.django_db
def test_mixed_batch_activation_and_redemption_of_one_customer_respects_the_daily_limit_and_the_order():
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(value=Decimal("5.00"), max_uses_per_customer_per_day=1, is_stackable=True)
    act = pending_activation(user, offer, campaign)
    # the customer names an order after the activation's own order
    red = pending_redemption(user, campaign, order_reference=f"activation:{act.id}", cart_value="20.00")
    settle(act, batch_size=10)
    act.refresh_from_db(), red.refresh_from_db()
    assert sorted([act.status, red.status]).count("SUCCEEDED") == 1, (act.status, red.status)
    assert day_uses(user, campaign) == 1
    invariants(user)


@pytest.mark.django_db
def test_a_customers_own_reversal_does_not_buy_another_use_on_the_activation_path():
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(value=Decimal("5.00"), max_uses_per_customer_per_day=1)
    red = settle(pending_redemption(user, campaign, order_reference="o1"))
    assert red.status == "SUCCEEDED"
    transaction_reverse(transaction_id=red.id, requested_by_id=user.id, as_staff=False)
    act = settle(pending_activation(user, offer, campaign))
    again = settle(pending_redemption(user, campaign, order_reference="o2"))
    assert act.failure_code == "daily_limit_reached", act.status
    assert again.failure_code == "daily_limit_reached", again.status
    assert Account.objects.get(user=user).balance == Decimal("100.00")  # the activation charged nothing
    invariants(user)


@pytest.mark.django_db
def test_a_batch_of_combinations_in_one_order_never_exceeds_the_cart_and_applies_each_campaign_once():
    user = customer()
    a = CampaignFactory(value=Decimal("60.00"), is_stackable=True)
    b = CampaignFactory(value=Decimal("60.00"), is_stackable=True)
    c = CampaignFactory(value=Decimal("60.00"), is_stackable=True, max_uses_per_customer_per_day=1)
    txns = [pending_redemption(user, campaigns=combo, order_reference="o", cart_value="100.00")
            for combo in ([a, b], [b, c], [c], [a], [c, a])]
    settle(txns[0], batch_size=10)
    for t in txns:
        t.refresh_from_db()
    assert CampaignRedemption.objects.filter(user=user, order_reference="o", reversed_at=None).values(
        "campaign_id").distinct().count() == CampaignRedemption.objects.filter(
        user=user, order_reference="o", reversed_at=None).count()
    invariants(user)


@pytest.mark.django_db
def test_a_combination_in_a_foreign_currency_cart_is_refused_whole():
    user = customer()
    eur = CampaignFactory(is_stackable=True)
    usd = CampaignFactory(is_stackable=True, currency="USD")
    txn = settle(pending_redemption(user, campaigns=[usd, eur], order_reference="o", currency="USD"))
    assert txn.status == "FAILED" and txn.failure_code == "currency_mismatch"
    assert not CampaignRedemption.objects.exists()
    invariants(user)


@pytest.mark.django_db
def test_an_activation_in_another_currency_than_the_account_consumes_no_budget():
    user = customer(balance="100.00")  # EUR account
    offer = OfferFactory(price=Decimal("20.00"), currency="USD")
    campaign = CampaignFactory(value=Decimal("5.00"), currency="USD")
    txn = settle(pending_activation(user, offer, campaign))
    assert txn.status == "FAILED"
    campaign.refresh_from_db()
    assert campaign.spent_amount == 0 and campaign.uses_count == 0
    invariants(user)


@pytest.mark.django_db
def test_staff_reversal_of_an_activation_with_a_full_discount_gives_back_budget_and_no_money():
    user, offer = customer(balance="0"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(value=Decimal("50.00"))
    txn = settle(pending_activation(user, offer, campaign))
    assert txn.status == "SUCCEEDED" and txn.result["amount_charged"] == "0.00", txn.result
    staff = customer(is_staff=True)
    reversal = transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)
    assert reversal.result["refunded"] == "0.00"
    assert Account.objects.get(user=user).balance == 0
    invariants(user)


@pytest.mark.django_db
def test_a_customer_cannot_reverse_someone_elses_redemption_nor_an_activation():
    from kernel.errors import NotPermitted

    alice, bob, offer = customer(balance="50.00"), customer(), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory()
    bobs = settle(pending_redemption(bob, campaign, order_reference="o"))
    alices_activation = settle(pending_activation(alice, offer, campaign))
    for txn in (bobs, alices_activation):
        with pytest.raises(NotPermitted):
            transaction_reverse(transaction_id=txn.id, requested_by_id=alice.id, as_staff=False)
    invariants(alice, bob)


@pytest.mark.django_db
def test_a_customer_named_order_cannot_spoil_the_activations_own_order():
    """`activation:<txn id>` is the platform's order for an activation with a campaign; a
    customer may still name an order that way (the reference pattern allows ':')."""
    user, offer = customer(balance="100.00"), OfferFactory(price=Decimal("20.00"))
    exclusive = CampaignFactory(value=Decimal("1.00"))
    campaign = CampaignFactory(value=Decimal("5.00"))
    act = pending_activation(user, offer, campaign)
    squatter = settle(pending_redemption(user, exclusive, order_reference=f"activation:{act.id}",
                                         cart_value="20.00"))
    assert squatter.status == "SUCCEEDED"
    act = settle(act)
    assert act.status == "SUCCEEDED", f"the activation failed {act.failure_code}: its order was taken"
