"""What each event tells the customer: flash holds and completions, with their times in the
customer's time zone, handed over by the settlement outbox's drain."""
from zoneinfo import ZoneInfo

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from activation.services import finished_outbox_drain
from notifications.models import Notification
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION, flash_reservation_complete
from tests.factories import SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db


def test_a_flash_hold_and_its_completion_are_notified_with_the_hold_expiry():
    # given: an eligible customer in Tokyo time holds a unit
    gold = SegmentFactory(slug="gold-events")
    lena = customer(username="lena", segment=gold, latitude=latitude_north_of_store(1), longitude=STORE_LON,
                    timezone="Asia/Tokyo", balance="50.00")
    promo = running_promo(segments=[gold])
    txn = Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user_id=lena.id, payload={"promo_id": promo.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    reservation = FlashReservation.objects.get(user=lena)

    # when: the hold is told, the purchase completes (a transaction settled in the request),
    # and the outbox is drained twice (a redelivered drain message)
    finished_outbox_drain()
    flash_reservation_complete(user_id=lena.id, reservation_id=reservation.id)
    finished_outbox_drain()
    finished_outbox_drain()

    # then
    held = Notification.objects.get(user=lena, channel="email", kind="flash_reservation_held")
    local_expiry = reservation.expires_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert held.subject == f"{promo.product.name} is held for you"
    assert f"until {local_expiry:%d %b %Y, %H:%M} JST" in held.body and "49.00 EUR" in held.body
    assert Notification.objects.filter(user=lena, kind="flash_reservation_completed").count() == 2  # email + in-app


def test_a_code_claim_is_notified_with_the_code():
    # given
    from offers.codes.services import KIND_CODE_CLAIM
    from offers.codes.services import code_pool_create
    from tests.codes.factories import BrandFactory

    mia = customer(username="mia")
    pool = code_pool_create(brand=BrandFactory(), name="Spring codes", total_count=3)
    txn = Transaction.objects.create(kind=KIND_CODE_CLAIM, user_id=mia.id, payload={"pool_id": pool.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()

    # when
    finished_outbox_drain()

    # then
    notification = Notification.objects.get(user=mia, channel="in_app")
    assert notification.kind == "code_claimed"
    assert notification.subject == f"Your discount code {txn.result['code']}"
    assert "Spring codes" in notification.body


def test_an_activation_and_its_refusal_are_notified_with_the_same_facts_as_before():
    # given: a partner's activation that succeeds and one that is refused (no money left)
    from decimal import Decimal

    from offers.models import Subscription
    from offers.services import offer_activation_request
    from tests.factories import OfferFactory

    nia, offer = customer(username="nia", balance="20.00"), OfferFactory(name="Fibre 1G", price=Decimal("20.00"))
    txns = []
    for reference in ("ref-ok", "ref-no"):
        txn = offer_activation_request(user_id=nia.id, offer=offer, idempotency_key=None,
                                       context={"partner_id": 1, "reference": reference}).transaction
        transactions_settle(transaction_id=txn.id, batch_size=1)
        txns.append(txn)

    # when
    for txn in txns:
        finished_outbox_drain()

    # then: the facts the templates get, key for key
    expires_at = Subscription.objects.get(user=nia).expires_at.isoformat()
    succeeded = Notification.objects.get(user=nia, channel="in_app", kind="activation_succeeded")
    failed = Notification.objects.get(user=nia, channel="in_app", kind="activation_failed")
    assert succeeded.data == {"transaction_id": str(txns[0].id), "status": "SUCCEEDED", "failure_code": "",
                              "amount": "20.00 EUR", "expires_at": expires_at, "offer": "Fibre 1G",
                              "partner_reference": "ref-ok"}
    assert failed.data == {"transaction_id": str(txns[1].id), "status": "FAILED",
                           "failure_code": "insufficient_balance", "amount": "20.00 EUR", "expires_at": "",
                           "offer": "Fibre 1G", "partner_reference": "ref-no"}


def test_a_redemption_is_notified_with_the_campaign_granted_and_the_discount():
    # given: a redemption as the API asks it (campaign_ids)
    from decimal import Decimal

    from offers.campaigns.rules import Cart
    from offers.campaigns.services import discount_redemption_request
    from tests.campaigns.factories import CampaignFactory

    oli, campaign = customer(username="oli"), CampaignFactory(name="Spring sale", value=Decimal("10.00"))
    txn = discount_redemption_request(user_id=oli.id, campaign_ids=[campaign.id], order_reference="o-1",
                                      cart=Cart(cart_value=Decimal("50.00"), delivery_charge=Decimal("0"),
                                                currency="EUR"), idempotency_key=None).transaction
    transactions_settle(transaction_id=txn.id, batch_size=1)

    # when
    finished_outbox_drain()

    # then
    notification = Notification.objects.get(user=oli, channel="in_app", kind="redemption_succeeded")
    assert notification.data == {"transaction_id": str(txn.id), "status": "SUCCEEDED", "failure_code": "",
                                 "amount": "", "expires_at": "", "campaign": "Spring sale", "discount": "10.00 EUR"}
    assert "the Spring sale discount was applied: 10.00 EUR off" in notification.body
