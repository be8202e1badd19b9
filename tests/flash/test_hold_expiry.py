"""A settled batch of holds asks for its expiry with one message per promo (its holds lapse
together), and that message expires every lapsed hold of the promo, none early."""
from datetime import timedelta

import pytest
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.flash import services
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION, flash_promo_holds_expire
from tests.factories import SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db


def test_one_expiry_message_per_promo_for_a_batch_of_holds(monkeypatch, django_capture_on_commit_callbacks):
    # given: 6 reservations on two promos, settled as one batch
    gold = SegmentFactory(slug="gold-expiry")
    near = {"latitude": latitude_north_of_store(1.0), "longitude": STORE_LON}
    people = [customer(username=f"expiry-{i}", segment=gold, **near) for i in range(3)]
    promos = [running_promo(segments=[gold], quantity=5, hold_seconds=90) for _ in range(2)]
    for promo in promos:
        for person in people:
            Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=person, payload={"promo_id": promo.id})
    sent = []
    monkeypatch.setattr("kernel.tasks.task_publish", lambda name, **kwargs: sent.append((name, kwargs)) or True)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        transactions_settle(batch_size=50)

    # then: 6 holds, 2 messages, each for its promo at its holds' expiry
    holds = FlashReservation.objects.filter(promo__in=promos, status="held")
    assert holds.count() == 6
    expiry = [kwargs for name, kwargs in sent if name == "offers.flash.tasks.flash_promo_holds_expire_task"]
    assert sorted(int(kwargs["args"][0]) for kwargs in expiry) == sorted(p.id for p in promos)
    for kwargs in expiry:
        lapse = max(h.expires_at for h in holds if h.promo_id == int(kwargs["args"][0]))
        assert kwargs["args"][1] == lapse.isoformat() and 89 < kwargs["countdown"] <= 91


def test_the_message_expires_the_promos_lapsed_holds_and_waits_for_the_others(monkeypatch):
    # given: one lapsed hold, one still running, one completed
    gold = SegmentFactory(slug="gold-lapse")
    promo = running_promo(segments=[gold], quantity=5)
    now = timezone.now()
    lapsed, running, bought = (FlashReservation.objects.create(promo=promo, user=customer(username=f"lapse-{i}"),
                                                               status=status, expires_at=now + offset,
                                                               transaction_id=Transaction.objects.create(
                                                                   kind=KIND_FLASH_RESERVATION,
                                                                   user_id=customer(username=f"t-{i}").id,
                                                                   payload={}).id)
                               for i, (status, offset) in enumerate([("held", -timedelta(seconds=1)),
                                                                     ("held", timedelta(minutes=5)),
                                                                     ("completed", -timedelta(seconds=1))]))
    rescheduled = []
    monkeypatch.setattr(services, "flash_holds_expiry_schedule", lambda **kwargs: rescheduled.append(kwargs))

    # when: delivered early, then on time
    early = flash_promo_holds_expire(promo_id=promo.id, due=now + timedelta(minutes=5))
    on_time = flash_promo_holds_expire(promo_id=promo.id, due=now)

    # then
    assert early == 0 and rescheduled == [{"promo_id": promo.id, "expires_at": now + timedelta(minutes=5)}]
    assert on_time == 1
    assert [FlashReservation.objects.get(pk=r.pk).status for r in (lapsed, running, bought)] == [
        "expired", "held", "completed"]
    assert flash_promo_holds_expire(promo_id=promo.id, due=now) == 0  # again: nothing left to do
