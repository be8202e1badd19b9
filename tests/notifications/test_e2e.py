"""Through the live stack: the web process, a real Celery worker and a real SMTP server
(aiosmtpd on 127.0.0.1) that the worker sends to."""
import time
from decimal import Decimal

import pytest
import requests
from django.utils import timezone
from zoneinfo import ZoneInfo

from activation.tasks import transaction_settle_task
from notifications.models import Notification
from activation.tasks import finished_outbox_drain_task
from notifications.tasks import notification_deliver_task
from offers.models import Subscription
from tests.activation.test_e2e import login
from tests.factories import OfferFactory, customer
from tests.conftest import settlement_queue_drain
from tests.helpers import wait_until_terminal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def notifications_idle(worker, timeout: float = 60) -> None:
    settlement_queue_drain(timeout=timeout)  # settlement, notifications and callbacks queues
    worker.wait_idle(("notifications.", "activation."), timeout=timeout)  # and those the worker took have run


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout}s")
        time.sleep(0.1)
    return value


def test_the_activation_email_arrives_once_with_the_right_recipient_subject_and_facts(live_stack, smtp_server):
    # given
    web, worker = live_stack
    nina = customer(username="nina-e2e", balance="100.00", timezone="Europe/Paris")
    nina.first_name = "Nina"
    nina.save()
    offer = OfferFactory(name="Fibre 2G", price=Decimal("29.90"))
    headers = login(web.url, "nina-e2e")

    # when
    accepted = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=headers)
    (received,) = smtp_server.wait_for("nina-e2e@example.com", timeout=60)

    # then: to Nina, about Fibre 2G, with the amount and the end date in her time zone
    assert accepted.status_code == 202, accepted.text
    expires = Subscription.objects.get(user=nina).expires_at.astimezone(ZoneInfo("Europe/Paris"))
    text = received.part("text/plain")
    assert received.recipients == ["nina-e2e@example.com"]
    assert received.message["To"] == "nina-e2e@example.com"
    assert received.subject == "Your Fibre 2G is active"
    assert "Hello Nina," in text and "Charged: 29.90 EUR" in text
    assert f"Valid until: {expires:%d %b %Y, %H:%M} {expires.tzname()}" in text
    assert "Fibre 2G" in received.part("text/html")
    # the worker records "sent" after the SMTP server has answered, so a moment after the email arrives
    email_row = wait_for(lambda: Notification.objects.filter(user=nina, channel="email", status="sent").first(),
                         what="the email row marked sent")
    assert email_row.attempts == 1 and email_row.sent_at <= timezone.now()
    inbox = requests.get(f"{web.url}/api/v1/notifications/", headers=headers).json()
    inbox = inbox["results"] if isinstance(inbox, dict) else inbox
    assert [n["subject"] for n in inbox] == ["Your Fibre 2G is active"]

    # when: the settlement, the notification and the delivery messages all come again
    transaction_id = accepted.json()["transaction_id"]
    transaction_settle_task.delay(transaction_id)
    finished_outbox_drain_task.delay()
    notification_deliver_task.delay(str(email_row.id))
    notification_deliver_task.delay(str(email_row.id))
    wait_until_terminal([transaction_id])
    notifications_idle(worker)

    # then: still one email and one inbox entry
    assert len(smtp_server.to("nina-e2e@example.com")) == 1
    assert Notification.objects.filter(user=nina).count() == 2
