"""Fault 4: a partner callback endpoint that accepts connections and never answers, and an
SMTP server that is down, must not slow settlement: they run on other queues, in other
worker processes (as `make run` splits them), with timeouts."""
import socket
import time
import uuid
from decimal import Decimal

import pytest
import requests

from activation.models import Transaction
from notifications.models import Notification
from partners.models import CallbackDelivery
from tests.conftest import LiveWorker
from tests.factories import OfferFactory, bearer, customer
from tests.helpers import wait_until_terminal
from tests.partners.signing import ACTIVATE, body_of, partner, signed_headers

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout}s")
        time.sleep(0.1)


def test_dead_callback_endpoint_and_smtp_down_do_not_slow_settlement(live_env, live_stack, smtp_server):
    # given: settlement on its own worker; callbacks and emails on the session worker, whose
    # callback endpoint swallows connections and whose SMTP server is stopped
    web, session_worker = live_stack
    dead_endpoint = socket.socket()
    dead_endpoint.bind(("127.0.0.1", 0))
    dead_endpoint.listen(200)  # connections complete in the backlog; nothing is ever read or answered
    customers = [customer(balance="10.00") for _ in range(20)]
    credentials = partner(callback_url=f"http://127.0.0.1:{dead_endpoint.getsockname()[1]}/hook", customers=customers)
    offer = OfferFactory(price=Decimal("1.00"))
    session_worker.settlement_pause()
    settlement_worker = LiveWorker(live_env, queues="settlement")
    settlement_worker.start()
    smtp_server.stop()
    try:
        # when: 20 partner activations (each owes a callback and an email) and 20 customer ones
        ids = []
        for person in customers:
            body = body_of({"reference": f"ref-{uuid.uuid4().hex[:12]}", "customer": person.email,
                            "offer_id": offer.id})
            response = requests.post(f"{web.url}{ACTIVATE}", data=body,
                                     headers=signed_headers(credentials, "POST", ACTIVATE, body), timeout=30)
            assert response.status_code == 202, response.text
            ids.append(response.json()["transaction_id"])
            response = requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id},
                                     headers={"Authorization": bearer(person)}, timeout=30)
            assert response.status_code == 202, response.text
            ids.append(response.json()["transaction_id"])
        txns = wait_until_terminal(ids, timeout=60)

        # then: everything settled while the callbacks and emails were still stuck. (A callback
        # row is written after its settlement commits, and an email row by the stuck session
        # worker: wait for them to exist before telling what became of them.)
        assert all(t.status == "SUCCEEDED" for t in txns)
        wait_for(lambda: CallbackDelivery.objects.count() == 20, "20 callback deliveries recorded")
        wait_for(lambda: Notification.objects.filter(channel="email").exists(), "an email recorded")
        undelivered = CallbackDelivery.objects.exclude(status="delivered").count()
        # one snapshot: the notifications worker may still be writing email rows meanwhile
        emails = list(Notification.objects.filter(channel="email").values_list("status", flat=True))
        unsent = sum(1 for status in emails if status != "sent")
        print(f"\n[faults] dead callback endpoint + SMTP down: {len(txns)} settled; "
              f"callbacks undelivered={undelivered}/20, emails unsent={unsent}/{len(emails)}")
        assert undelivered == 20
        assert emails and unsent == len(emails)
    finally:
        smtp_server.start()
        settlement_worker.stop()
        session_worker.settlement_resume()
        dead_endpoint.close()
        time.sleep(0.5)
