"""A flash promo start fanned out to 10,000 customers on the notifications queue, consumed
by its own worker process, while settlement keeps running on the settlement worker."""
import time
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import CustomerProfile, User
from activation.models import Transaction
from notifications.models import Notification
from offers.flash.models import FlashPromoNotice
from offers.services import offer_activation_request
from tests.conftest import RUN_DIR, LiveWorker
from tests.factories import OfferFactory, SegmentFactory, customer
from tests.flash.factories import STORE_LAT, STORE_LON, running_promo
from tests.helpers import wait_until_terminal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 10_000
EMAIL_OPTED_IN = 20


def customers_bulk(count: int, *, segment, opted_in: int) -> list[User]:
    """bulk_create, not the per-user service: 10,000 customers in a second or two."""
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"fan-{i}", email=f"fan-{i}@example.com", password="!")
                                          for i in range(count)], batch_size=2000)
        CustomerProfile.objects.bulk_create([CustomerProfile(user=u, segment=segment, latitude=STORE_LAT,
                                                             longitude=STORE_LON, email_opt_out=i >= opted_in)
                                             for i, u in enumerate(users)], batch_size=2000)
    return users


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def notifications_worker(live_worker, live_env):
    """The notifications queue gets its own worker; the session worker keeps settlement."""
    worker = LiveWorker(live_env, queues="notifications", concurrency=2)
    worker.log_path = RUN_DIR / "worker-notifications.log"
    worker.start()
    live_worker.consumer_cancel("notifications")
    yield worker
    live_worker.consumer_add("notifications")
    worker.stop()


def test_fanout_to_10000_customers_reaches_each_once_and_settlement_does_not_wait(
        live_worker, notifications_worker, smtp_server):
    # given
    gold = SegmentFactory(slug="fanout-gold")
    started = time.monotonic()
    users = customers_bulk(CUSTOMERS, segment=gold, opted_in=EMAIL_OPTED_IN)
    created_in = time.monotonic() - started
    payer = customer(username="payer-during-fanout", balance="50.00")
    offer = OfferFactory(price=Decimal("10.00"))
    promo_started = Notification.objects.filter(kind="flash_promo_started", channel="in_app")

    # when: the promo starts (its fan-out is enqueued on commit), then a settlement is submitted mid-way
    fanout_started = time.monotonic()
    promo = running_promo(segments=[gold], radius_km="5")
    wait_for(lambda: promo_started.exists(), 60, "the fan-out to begin")
    accepted = offer_activation_request(user_id=payer.id, offer=offer, idempotency_key="during-fanout")
    (settled,) = wait_until_terminal([accepted.transaction.id], timeout=60)
    told_when_settled = promo_started.count()
    settled_after = time.monotonic() - fanout_started
    wait_for(lambda: promo_started.count() >= CUSTOMERS, 600, "the fan-out to finish")
    fanout_took = time.monotonic() - fanout_started
    emailed = smtp_server.wait_for  # the 20 opted-in customers get an email too
    for i in range(EMAIL_OPTED_IN):
        emailed(f"fan-{i}@example.com", timeout=120)
    print(f"\n10,000 customers created in {created_in:.2f}s; fan-out finished in {fanout_took:.1f}s; "
          f"the settlement finished after {settled_after:.1f}s with {told_when_settled} customers told")

    # then: settlement finished while the fan-out was still working through its chunks
    assert settled.status == Transaction.Status.SUCCEEDED
    assert told_when_settled < CUSTOMERS
    last_told = promo_started.order_by("-created_at").first().created_at
    assert settled.settled_at < last_told
    # every eligible customer told exactly once, in the app; email only to those who did not opt out
    user_ids = {u.id for u in users}
    told = list(promo_started.values_list("user_id", flat=True))
    assert len(told) == CUSTOMERS and set(told) == user_ids
    assert FlashPromoNotice.objects.filter(promo=promo).count() == CUSTOMERS
    emails = Notification.objects.filter(kind="flash_promo_started", channel="email")
    assert emails.count() == EMAIL_OPTED_IN
    assert set(emails.values_list("user__username", flat=True)) == {f"fan-{i}" for i in range(EMAIL_OPTED_IN)}
    assert all(len(smtp_server.to(f"fan-{i}@example.com")) == 1 for i in range(EMAIL_OPTED_IN))
    assert not smtp_server.to(f"fan-{CUSTOMERS - 1}@example.com")
    assert promo_started.filter(user=payer).count() == 0
