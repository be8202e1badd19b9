"""offers.results: every kind's finished transaction, accepted through its request service and
settled by the real settlers, reads back as its typed result; pending and reversed ones do not."""
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest

from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.campaigns.rules import Cart
from offers.campaigns.services import discount_redemption_request
from offers.codes.services import code_claim_request, code_grant_request, code_pool_create
from offers.flash.models import FlashReservation
from offers.flash.services import flash_reservation_complete, flash_reservation_request
from offers.models import Subscription
from offers.results import (CodeClaimResult, DiscountRedemptionResult, FlashPurchaseResult, FlashReservationResult,
                            OfferActivationResult, OfferRenewalResult, partner_reference_of, transaction_result)
from offers.services import offer_activation_request, offer_renewal_request
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import OfferFactory, SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db


def settled(accepted) -> Transaction:
    txn = accepted.transaction
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def test_an_activation_asked_by_a_partner_reads_as_activated_with_its_reference():
    # given
    ada, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    accepted = offer_activation_request(user_id=ada.id, offer=offer, idempotency_key=None,
                                        context={"partner_id": 7, "reference": "ref-42"})

    # when
    txn = settled(accepted)
    result = transaction_result(txn)

    # then
    subscription = Subscription.objects.get(user=ada, offer=offer)
    assert result == OfferActivationResult(
        transaction_id=txn.id, user_id=ada.id, succeeded=True, failure_code="", amount=Decimal("20.00"),
        currency="EUR", offer_id=offer.id, subscription_id=subscription.id, expires_at=subscription.expires_at,
        campaign_id=None, discount=None, partner_reference="ref-42")
    assert partner_reference_of(txn) == "ref-42"


def test_an_activation_with_a_campaign_reads_the_amount_charged_and_the_discount():
    # given
    ben, offer = customer(balance="50.00"), OfferFactory(price=Decimal("20.00"))
    campaign = CampaignFactory(value=Decimal("5.00"))

    # when
    txn = settled(offer_activation_request(user_id=ben.id, offer=offer, idempotency_key=None,
                                           campaign_id=campaign.id))
    result = transaction_result(txn)

    # then
    assert txn.status == "SUCCEEDED", txn.failure_code
    assert (result.amount, result.campaign_id, result.discount) == (Decimal("15.00"), campaign.id, Decimal("5.00"))
    assert result.partner_reference is None and partner_reference_of(txn) is None


def test_a_refused_activation_reads_as_failed_with_the_quoted_amount_and_its_code():
    # given: no money
    cleo, offer = customer(), OfferFactory(price=Decimal("20.00"))

    # when
    txn = settled(offer_activation_request(user_id=cleo.id, offer=offer, idempotency_key=None,
                                           context={"reference": "ref-9"}))
    result = transaction_result(txn)

    # then
    assert isinstance(result, OfferActivationResult)
    assert (result.succeeded, result.failure_code) == (False, "insufficient_balance")
    assert (result.amount, result.currency, result.offer_id) == (Decimal("20.00"), "EUR", offer.id)
    assert (result.subscription_id, result.expires_at, result.partner_reference) == (None, None, "ref-9")


def test_a_renewal_reads_as_renewed_and_a_refused_one_as_failed():
    # given: an activated subscription, money for one renewal only
    dan, offer = customer(balance="20.00"), OfferFactory(price=Decimal("10.00"))
    settled(offer_activation_request(user_id=dan.id, offer=offer, idempotency_key=None))
    subscription = Subscription.objects.get(user=dan, offer=offer)

    # when
    renewed = settled(offer_renewal_request(user_id=dan.id, subscription=subscription, idempotency_key=None))
    refused = settled(offer_renewal_request(user_id=dan.id, subscription=subscription, idempotency_key=None))

    # then
    subscription.refresh_from_db()
    assert transaction_result(renewed) == OfferRenewalResult(
        transaction_id=renewed.id, user_id=dan.id, succeeded=True, failure_code="", amount=Decimal("10.00"),
        currency="EUR", offer_id=offer.id, subscription_id=subscription.id, expires_at=subscription.expires_at)
    failed = transaction_result(refused)
    assert (type(failed), failed.succeeded, failed.failure_code) == (OfferRenewalResult, False, "insufficient_balance")
    assert (failed.amount, failed.expires_at, failed.subscription_id) == (Decimal("10.00"), None, subscription.id)


def test_a_discount_redemption_reads_as_redeemed_with_its_first_campaign_and_total():
    # given: a combination of two campaigns
    eve = customer()
    first = CampaignFactory(value=Decimal("10.00"), is_stackable=True)
    second = CampaignFactory(value=Decimal("2.50"), is_stackable=True)
    accepted = discount_redemption_request(user_id=eve.id, campaign_ids=[first.id, second.id],
                                           cart=Cart(cart_value=Decimal("100.00"), delivery_charge=Decimal("0"),
                                                     currency="EUR"),
                                           order_reference="order-1", idempotency_key=None)

    # when
    txn = settled(accepted)

    # then
    assert transaction_result(txn) == DiscountRedemptionResult(
        transaction_id=txn.id, user_id=eve.id, succeeded=True, failure_code="", amount=None, currency="EUR",
        campaign_ids=(first.id, second.id), campaign_id=first.id, discount=Decimal("12.50"),
        order_reference="order-1", code_id=None)


def test_a_refused_discount_redemption_reads_as_failed_without_a_discount():
    # given: a campaign of another currency
    fay = customer()
    campaign = CampaignFactory(currency="USD")

    # when
    txn = settled(discount_redemption_request(user_id=fay.id, campaign_ids=[campaign.id],
                                              cart=Cart(cart_value=Decimal("100.00"), delivery_charge=Decimal("0"),
                                                        currency="EUR"),
                                              order_reference="order-2", idempotency_key=None))
    result = transaction_result(txn)

    # then
    assert (type(result), result.succeeded) == (DiscountRedemptionResult, False)
    assert result.failure_code == txn.failure_code != ""
    assert (result.campaign_id, result.discount, result.campaign_ids) == (None, None, (campaign.id,))


def test_a_code_claim_and_a_grant_read_as_claimed_and_a_sold_out_pool_as_failed():
    # given: a pool of one code
    gus, hal, staff = customer(), customer(), customer(is_staff=True)
    pool = code_pool_create(brand=BrandFactory(), name="One code", total_count=1)

    # when
    claim = settled(code_claim_request(user_id=gus.id, pool=pool, idempotency_key=None))
    again = settled(code_claim_request(user_id=gus.id, pool=pool, idempotency_key=None))
    grant = settled(code_grant_request(pool=pool, customer_id=hal.id, granted_by_id=staff.id, idempotency_key=None))

    # then
    code = pool.codes.get().code
    assert transaction_result(claim) == CodeClaimResult(
        transaction_id=claim.id, user_id=gus.id, succeeded=True, failure_code="", amount=None, currency="",
        pool_id=pool.id, code=code, already_claimed=False, granted_by_id=None)
    assert (transaction_result(again).code, transaction_result(again).already_claimed) == (code, True)
    refused = transaction_result(grant)
    assert (refused.succeeded, refused.failure_code, refused.code) == (False, "sold_out", "")
    assert (refused.user_id, refused.granted_by_id) == (hal.id, staff.id)


def test_a_flash_reservation_reads_as_a_held_unit_and_its_purchase_as_bought():
    # given
    gold = SegmentFactory(slug="gold-results")
    ivy = customer(segment=gold, latitude=latitude_north_of_store(1), longitude=STORE_LON, balance="100.00")
    promo = running_promo(segments=[gold])

    # when
    txn = settled(flash_reservation_request(user_id=ivy.id, promo=promo, idempotency_key=None))
    twice = settled(flash_reservation_request(user_id=ivy.id, promo=promo, idempotency_key=None))
    reservation = FlashReservation.objects.get(user=ivy)
    purchase = flash_reservation_complete(user_id=ivy.id, reservation_id=reservation.id).transaction

    # then
    assert transaction_result(txn) == FlashReservationResult(
        transaction_id=txn.id, user_id=ivy.id, succeeded=True, failure_code="", amount=None, currency="",
        promo_id=promo.id, reservation_id=reservation.id, expires_at=reservation.expires_at,
        promo_price=Decimal("49.00"))
    refused = transaction_result(twice)
    assert (refused.succeeded, refused.failure_code, refused.reservation_id) == (False, "already_holding",
                                                                                  reservation.id)
    assert transaction_result(purchase) == FlashPurchaseResult(
        transaction_id=purchase.id, user_id=ivy.id, succeeded=True, failure_code="", amount=Decimal("49.00"),
        currency=promo.product.currency, promo_id=promo.id, reservation_id=reservation.id)


def test_a_pending_or_reversed_transaction_and_a_reversal_have_no_result_but_keep_the_partner_reference():
    # given
    jon, offer = customer(balance="50.00"), OfferFactory()
    pending = offer_activation_request(user_id=jon.id, offer=offer, idempotency_key=None,
                                       context={"reference": "ref-1"}).transaction
    done = settled(offer_activation_request(user_id=jon.id, offer=offer, idempotency_key=None,
                                            context={"reference": "ref-2"}))

    # when
    reversal = transaction_reverse(transaction_id=done.id, requested_by_id=customer(is_staff=True).id, as_staff=True)
    done.refresh_from_db()

    # then
    assert done.status == "REVERSED"
    assert transaction_result(pending) is None and transaction_result(done) is None
    assert transaction_result(reversal) is None and partner_reference_of(reversal) is None
    assert (partner_reference_of(pending), partner_reference_of(done)) == ("ref-1", "ref-2")


def test_a_result_is_frozen():
    # given
    kim, offer = customer(balance="50.00"), OfferFactory()
    result = transaction_result(settled(offer_activation_request(user_id=kim.id, offer=offer, idempotency_key=None)))

    # when / then
    with pytest.raises(FrozenInstanceError):
        result.amount = Decimal("0")
