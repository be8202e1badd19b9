"""What each event tells the customer: flash holds and completions, with their times in the
customer's time zone, and the signal the synchronous completion sends on commit."""
from zoneinfo import ZoneInfo

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from notifications.events import flash_reservation_completed_notify, transaction_notify
from notifications.models import Notification
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION, flash_reservation_complete
from offers.signals import flash_reservation_completed
from tests.factories import SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db


def test_a_flash_hold_and_its_completion_are_notified_with_the_hold_expiry(django_capture_on_commit_callbacks):
    # given: an eligible customer in Tokyo time holds a unit
    gold = SegmentFactory(slug="gold-events")
    lena = customer(username="lena", segment=gold, latitude=latitude_north_of_store(1), longitude=STORE_LON,
                    timezone="Asia/Tokyo", balance="50.00")
    promo = running_promo(segments=[gold])
    txn = Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user_id=lena.id, payload={"promo_id": promo.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    reservation = FlashReservation.objects.get(user=lena)
    sent = []
    flash_reservation_completed.connect(lambda sender, reservation_id, **kw: sent.append(reservation_id),
                                        dispatch_uid="test-events", weak=False)

    # when
    transaction_notify(transaction_id=txn.id)
    with django_capture_on_commit_callbacks(execute=True):
        flash_reservation_complete(user_id=lena.id, reservation_id=reservation.id)
        assert sent == []  # announced after commit only
    flash_reservation_completed_notify(reservation_id=reservation.id)
    flash_reservation_completed_notify(reservation_id=reservation.id)  # a redelivered message
    flash_reservation_completed.disconnect(dispatch_uid="test-events")

    # then
    held = Notification.objects.get(user=lena, channel="email", kind="flash_reservation_held")
    local_expiry = reservation.expires_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert held.subject == f"{promo.product.name} is held for you"
    assert f"until {local_expiry:%d %b %Y, %H:%M} JST" in held.body and "49.00 EUR" in held.body
    assert Notification.objects.filter(user=lena, kind="flash_reservation_completed").count() == 2  # email + in-app
    assert sent == [reservation.id]


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
    transaction_notify(transaction_id=txn.id)

    # then
    notification = Notification.objects.get(user=mia, channel="in_app")
    assert notification.kind == "code_claimed"
    assert notification.subject == f"Your discount code {txn.result['code']}"
    assert "Spring codes" in notification.body
