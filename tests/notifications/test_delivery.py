"""Email delivery against a real SMTP server on 127.0.0.1 (aiosmtpd), called at the service
level so the test controls the server's life: idempotency, retries with backoff, limits."""
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from activation.services import finished_outbox_drain
from notifications.models import Notification
from notifications.services import email_outbox, notification_deliver, smtp_error_is_transient
from offers.models import Subscription
from offers.services import offer_activation_request
from tests.conftest import _free_port
from tests.factories import OfferFactory, customer
from tests.notifications.factories import EmailNotificationFactory
from tests.notifications.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_port(settings):
    port = _free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.NOTIFICATION_BACKOFF_BASE_SECONDS = 0.05
    settings.NOTIFICATION_BACKOFF_MAX_SECONDS = 1
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    return port


@pytest.fixture
def smtp(smtp_port):
    server = SmtpServer(port=smtp_port)
    server.start()
    yield server
    server.stop()


def test_settling_twice_and_delivering_twice_sends_one_email(smtp):
    # given: an activation settled, notified and delivered
    alice = customer(username="alice-once", balance="50.00", timezone="Europe/Paris")
    alice.first_name = "Alice"
    alice.save()
    offer = OfferFactory(name="Fibre 1G", price=Decimal("29.90"))
    txn = offer_activation_request(user_id=alice.id, offer=offer, idempotency_key="k1").transaction
    transactions_settle(transaction_id=txn.id, batch_size=1)
    finished_outbox_drain()
    email_row = Notification.objects.get(user=alice, channel="email")
    notification_deliver(notification_id=email_row.id)

    # when: the settlement, the notification and the delivery all run again
    transactions_settle(transaction_id=txn.id, batch_size=1)
    finished_outbox_drain()
    again = notification_deliver(notification_id=email_row.id)

    # then: one email, one in-app notification
    received = smtp.wait_for("alice-once@example.com")
    time.sleep(0.3)
    assert len(smtp.to("alice-once@example.com")) == 1
    assert again.row.status == "sent" and again.row.attempts == 1
    assert Notification.objects.filter(user=alice).count() == 2
    message = received[0]
    txn.refresh_from_db()
    assert message.subject == "Your Fibre 1G is active"
    assert "Hello Alice" in message.part("text/plain") and "29.90 EUR" in message.part("text/plain")
    # the expiry in the customer's time zone (CET in winter, CEST in summer)
    expires = Subscription.objects.get(user=alice).expires_at.astimezone(ZoneInfo("Europe/Paris"))
    assert f"Valid until: {expires:%d %b %Y, %H:%M} {expires.tzname()}" in message.part("text/plain")
    assert "<p>Hello Alice,</p>" in message.part("text/html")


def test_smtp_down_then_up_is_retried_with_backoff_and_delivered_once(smtp_port, settings):
    # given: nothing listens on the SMTP port; the first retry comes after 1-2 s
    settings.NOTIFICATION_BACKOFF_BASE_SECONDS = 2
    notification = EmailNotificationFactory(user=customer(username="bob-retry"))

    # when: retried before the backoff is over (at once, so a slow server start cannot make
    # it late), then again once the backoff has passed, with the server up
    first = notification_deliver(notification_id=notification.id)
    early = notification_deliver(notification_id=notification.id)
    server = SmtpServer(port=smtp_port)
    server.start()
    try:
        time.sleep(first.retry_in + 0.05)
        second = notification_deliver(notification_id=notification.id)
        third = notification_deliver(notification_id=notification.id)
        received = server.wait_for("bob-retry@example.com")
    finally:
        server.stop()

    # then
    assert first.row.status == "queued" and first.retry_in is not None
    assert "ConnectionRefusedError" in first.row.last_error
    assert early.row.attempts == 1 and early.retry_in > 0  # not claimed early: comes back when due
    assert second.row.status == "sent" and second.row.attempts == 2
    assert second.row.last_error == ""
    assert third.row.attempts == 2 and len(received) == 1


def test_a_4xx_reply_is_retried_and_a_5xx_reply_fails_at_once(smtp):
    # given
    temporary = EmailNotificationFactory(user=customer(username="carol-451"))
    permanent = EmailNotificationFactory(user=customer(username="dan-550"))
    smtp.handler.replies = ["451 4.3.0 Try again later"]

    # when
    first = notification_deliver(notification_id=temporary.id)
    time.sleep(first.retry_in + 0.05)
    second = notification_deliver(notification_id=temporary.id)
    smtp.handler.replies = ["550 5.1.1 No such mailbox"]
    refused = notification_deliver(notification_id=permanent.id)

    # then
    assert first.retry_in is not None and "451" in first.row.last_error
    assert second.row.status == "sent"
    assert refused.retry_in is None and refused.row.status == "failed"
    assert "550" in refused.row.last_error and refused.row.attempts == 1


def test_after_the_attempt_limit_the_email_is_failed_with_the_reason(smtp_port):
    # given: the SMTP server stays down; the limit is 3 attempts
    notification = EmailNotificationFactory(user=customer(username="erin-down"))

    # when
    results = []
    for _ in range(3):
        results.append(notification_deliver(notification_id=notification.id))
        if results[-1].retry_in is not None:
            time.sleep(results[-1].retry_in + 0.05)
    after = notification_deliver(notification_id=notification.id)

    # then
    assert [r.row.status for r in results] == ["queued", "queued", "failed"]
    assert results[-1].retry_in is None and results[-1].row.attempts == 3
    assert results[-1].row.last_error.startswith("gave up after 3 attempts: ConnectionRefusedError")
    assert after.row.attempts == 3  # a failed email is never claimed again


def test_backoff_grows_exponentially_with_jitter_and_is_capped(settings):
    # given
    settings.NOTIFICATION_BACKOFF_BASE_SECONDS, settings.NOTIFICATION_BACKOFF_MAX_SECONDS = 10, 60

    # when
    delays = {n: [email_outbox.backoff_seconds(attempts=n) for _ in range(50)] for n in (1, 2, 3, 10)}

    # then
    assert all(5 <= d <= 10 for d in delays[1]) and all(10 <= d <= 20 for d in delays[2])
    assert all(20 <= d <= 40 for d in delays[3]) and all(30 <= d <= 60 for d in delays[10])
    assert len(set(delays[1])) > 1


def test_transient_and_permanent_smtp_errors_are_told_apart():
    import smtplib

    # given / when / then
    assert smtp_error_is_transient(ConnectionRefusedError())
    assert smtp_error_is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert smtp_error_is_transient(smtplib.SMTPConnectError(421, b"busy"))
    assert smtp_error_is_transient(smtplib.SMTPResponseException(452, b"full"))
    assert not smtp_error_is_transient(smtplib.SMTPResponseException(554, b"rejected"))
    assert not smtp_error_is_transient(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no")}))


def test_an_opted_out_customer_gets_the_in_app_notification_but_no_email():
    # given
    frank = customer(username="frank-optout", balance="5.00")
    frank.profile.email_opt_out = True
    frank.profile.save()
    offer = OfferFactory(name="TV Max", price=Decimal("9.00"))
    txn = offer_activation_request(user_id=frank.id, offer=offer, idempotency_key=None).transaction
    transactions_settle(transaction_id=txn.id, batch_size=1)

    # when
    finished_outbox_drain()

    # then: failed for lack of balance, told in plain words, in the app only
    assert Transaction.objects.get(pk=txn.id).failure_code == "insufficient_balance"
    (notification,) = Notification.objects.filter(user=frank)
    assert notification.channel == "in_app" and notification.kind == "activation_failed"
    assert notification.subject == "We could not activate TV Max"
    assert "because your account balance does not cover the price" in notification.body
