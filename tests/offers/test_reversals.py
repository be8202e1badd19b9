"""Every succeeded transaction kind can be reversed by staff: afterwards balance, ledger,
budget, daily usage, code, unit and subscription are exactly as before it; reversing again
(also concurrently) changes nothing more."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, LedgerEntry
from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION, flash_promo_units_left, flash_reservation_complete
from offers.models import Subscription
from offers.services import KIND_OFFER_ACTIVATION, KIND_OFFER_RENEWAL
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, SegmentFactory, bearer, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo
from tests.helpers import run_at_once


def settled(txn: Transaction) -> Transaction:
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    assert txn.status == "SUCCEEDED", (txn.failure_code, txn.failure_message)
    return txn


def activation(user, offer, **payload) -> Transaction:
    return settled(Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price,
                                              currency=offer.currency, payload={"offer_id": offer.id, **payload}))


def world_state(user) -> dict:
    """Every counter a transaction of `user` can consume."""
    account = Account.objects.get(user=user)
    ledger = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    assert ledger == account.balance >= 0
    return {
        "balance": account.balance,
        "active_subscriptions": sorted(Subscription.objects.filter(user=user, status="active")
                                       .values_list("offer_id", "expires_at")),
        "campaigns": sorted(Campaign.objects.values_list("id", "spent_amount", "uses_count")),
        "live_redemptions": sorted(CampaignRedemption.objects.filter(reversed_at=None).values_list("id", flat=True)),
        "daily_uses": CampaignRedemption.objects.filter(user=user, reversed_at=None).count(),
        "pools": sorted(CodePool.objects.values_list("id", "claimed_count")),
        "codes_claimed": sorted(DiscountCode.objects.filter(claimed_by__isnull=False).values_list("id", flat=True)),
        "units_taken": sorted(FlashReservation.objects.filter(status__in=["held", "completed"])
                              .values_list("id", flat=True)),
    }


def reverse_as_staff(txn) -> Transaction:
    staff = customer(is_staff=True)
    return transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)


def assert_reverses_to(before: dict, user, txn: Transaction) -> Transaction:
    reversal = reverse_as_staff(txn)
    assert reversal.status == "SUCCEEDED" and reversal.kind == f"{txn.kind}_reversal"
    txn.refresh_from_db()
    assert txn.status == "REVERSED"
    assert world_state(user) == before
    again = reverse_as_staff(txn)
    assert again.id == reversal.id
    assert world_state(user) == before
    return reversal


@pytest.mark.django_db
def test_an_activation_reversed_refunds_and_cancels_the_subscription_it_created():
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    before = world_state(user)
    txn = activation(user, offer)
    assert world_state(user) != before
    reversal = assert_reverses_to(before, user, txn)
    assert reversal.result["refunded"] == "20.00"
    assert Subscription.objects.get(pk=txn.result["subscription_id"]).status == "cancelled"


@pytest.mark.django_db
def test_an_activation_that_extended_a_subscription_gives_that_period_back():
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"), validity_days=30)
    activation(user, offer)
    before = world_state(user)
    assert_reverses_to(before, user, activation(user, offer))


@pytest.mark.django_db
def test_an_activation_with_a_campaign_gives_back_money_budget_and_the_days_use():
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(kind="percentage", value=Decimal("25"), max_uses_per_customer_per_day=1)
    before = world_state(user)
    txn = activation(user, offer, campaign_id=campaign.id)
    assert txn.result["amount_charged"] == "15.00"
    assert_reverses_to(before, user, txn)
    # the day's use came back: the same campaign applies again today
    assert activation(user, offer, campaign_id=campaign.id).result["discount"] == "5.00"


@pytest.mark.django_db
def test_a_renewal_reversed_refunds_and_takes_the_period_back():
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    subscription_id = activation(user, offer).result["subscription_id"]
    before = world_state(user)
    renewal = settled(Transaction.objects.create(kind=KIND_OFFER_RENEWAL, user=user, amount=offer.price,
                                                 currency=offer.currency,
                                                 payload={"subscription_id": subscription_id, "offer_id": offer.id}))
    assert_reverses_to(before, user, renewal)


@pytest.mark.django_db
def test_a_redemption_reversed_by_staff_restores_budget_uses_and_the_days_use():
    user = customer()
    campaign = CampaignFactory(value=Decimal("10.00"), max_uses_per_customer_per_day=1)
    before = world_state(user)
    assert_reverses_to(before, user, settled(pending_redemption(user, campaign, order_reference="o")))


@pytest.mark.django_db
def test_a_combined_redemption_reversed_restores_every_campaign():
    user = customer()
    a, b = CampaignFactory(is_stackable=True), CampaignFactory(is_stackable=True, target="delivery")
    before = world_state(user)
    assert_reverses_to(before, user, settled(pending_redemption(user, campaigns=[a, b], order_reference="o",
                                                                delivery_charge="5.00")))


@pytest.mark.django_db
def test_a_code_claim_reversed_puts_the_code_back_in_the_pool():
    # given: a pool of 1, claimed
    user, other = customer(), customer()
    pool = code_pool_create(brand=BrandFactory(), name="p", total_count=1)
    before = world_state(user)
    claim = settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id}))

    # when / then: the code is free again, and someone else gets it
    assert_reverses_to(before, user, claim)
    theirs = settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=other, payload={"pool_id": pool.id}))
    assert theirs.result["code"] == claim.result["code"]


@pytest.mark.django_db
def test_a_repeated_code_claim_reversed_releases_nothing():
    user = customer()
    pool = code_pool_create(brand=BrandFactory(), name="p", total_count=2)
    settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id}))
    before = world_state(user)
    repeat = settled(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=user, payload={"pool_id": pool.id}))
    assert repeat.result["already_claimed"] is True
    assert_reverses_to(before, user, repeat)


def flash_customer(segment, balance="100.00"):
    return customer(segment=segment, latitude=latitude_north_of_store(1), longitude=STORE_LON, balance=balance)


@pytest.mark.django_db
def test_a_flash_hold_reversed_frees_the_unit():
    gold = SegmentFactory(slug="gold-rev")
    promo = running_promo(segments=[gold], quantity=1)
    user = flash_customer(gold)
    before = world_state(user)
    hold = settled(Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id}))
    assert flash_promo_units_left(promo=promo, now=timezone.now()) == 0
    assert_reverses_to(before, user, hold)
    assert flash_promo_units_left(promo=promo, now=timezone.now()) == 1


@pytest.mark.django_db
def test_a_flash_purchase_charges_the_promo_price_and_reversed_refunds_it_and_frees_the_unit():
    # given: a held unit
    gold = SegmentFactory(slug="gold-buy")
    promo = running_promo(segments=[gold], quantity=1)
    user = flash_customer(gold, balance="60.00")
    hold = settled(Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id}))
    before = world_state(user)

    # when: completed, then the purchase reversed
    purchase = flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])

    # then: 49.00 charged through the ledger, then refunded; the unit is free again
    assert purchase.transaction.status == "SUCCEEDED" and purchase.transaction.amount == Decimal("49.00")
    assert Account.objects.get(user=user).balance == Decimal("11.00")
    assert LedgerEntry.objects.filter(transaction_id=purchase.transaction.id, amount=Decimal("-49.00")).exists()
    before["units_taken"] = []  # the hold the purchase consumed is given back too
    assert_reverses_to(before, user, purchase.transaction)
    assert flash_promo_units_left(promo=promo, now=timezone.now()) == 1
    # the hold itself cannot be reversed on its own once bought; after the refund it gives nothing more
    assert reverse_as_staff(hold).status == "SUCCEEDED"
    assert world_state(user)["balance"] == Decimal("60.00")


@pytest.mark.django_db
def test_a_hold_of_a_bought_unit_is_reversed_through_its_purchase():
    from kernel.errors import ConflictError

    gold = SegmentFactory(slug="gold-bought")
    promo = running_promo(segments=[gold], quantity=1)
    user = flash_customer(gold)
    hold = settled(Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id}))
    flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])
    before = world_state(user)
    with pytest.raises(ConflictError) as refused:
        reverse_as_staff(hold)
    assert refused.value.code == "purchase_not_reversed"
    assert world_state(user) == before and Transaction.objects.get(pk=hold.id).status == "SUCCEEDED"


@pytest.mark.django_db
def test_customers_may_reverse_only_their_own_redemptions(api_client):
    # given
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    txn = activation(user, offer)
    redemption = settled(pending_redemption(user, CampaignFactory(), order_reference="o"))
    before = world_state(user)

    # when
    refused = api_client.post(f"/api/v1/account/transactions/{txn.id}/reverse/", HTTP_AUTHORIZATION=bearer(user))

    # then: a 403 that changes nothing; their own redemption they may cancel
    assert refused.status_code == 403 and refused.json()["code"] == "reversal_not_permitted"
    assert world_state(user) == before and Transaction.objects.get(pk=txn.id).status == "SUCCEEDED"
    assert api_client.post(f"/api/v1/account/transactions/{redemption.id}/reverse/",
                           HTTP_AUTHORIZATION=bearer(user)).status_code == 200


@pytest.mark.django_db
def test_a_reversal_is_not_itself_reversible(api_client):
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    reversal = reverse_as_staff(activation(user, offer))
    staff = customer(is_staff=True)
    response = api_client.post(f"/api/v1/account/transactions/{reversal.id}/reverse/",
                               HTTP_AUTHORIZATION=bearer(staff))
    assert response.status_code == 409 and response.json()["code"] == "not_reversible"


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_reversals_of_one_transaction_refund_once():
    # given: an activation with a campaign
    user, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(value=Decimal("5.00"))
    before = world_state(user)
    txn = activation(user, offer, campaign_id=campaign.id)
    staff = customer(is_staff=True)
    reversal_ids = []

    # when: twelve staff reversals at once
    run_at_once(lambda: reversal_ids.append(transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id,
                                                                as_staff=True).id), [()] * 12)

    # then: one reversal, one refund, counters as before
    assert len(reversal_ids) == 12 and len(set(reversal_ids)) == 1
    assert LedgerEntry.objects.filter(reason="refund").count() == 1
    assert world_state(user) == before
