"""One grep for a request id finds the request's transaction, its settlement, the
notifications and the partner callback: through the live web (gunicorn + uvicorn), the
real broker and the session's Celery worker, whose log files are read as written."""
import json
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from activation.models import Transaction
from notifications.models import Notification
from partners.models import CallbackDelivery
from tests.factories import OfferFactory, customer
from tests.helpers import wait_until_terminal
from tests.partners.callback_server import CallbackServer
from tests.partners.signing import ACTIVATE, body_of, partner, signed_headers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def callback_server():
    server = CallbackServer()
    server.start()
    yield server
    server.stop()


class LogFollower:
    """The lines a process writes to its log file from now on."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def lines_with(self, needle: str) -> list[dict]:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        return [json.loads(line) for line in text.splitlines() if needle in line]


def wait_for_messages(followers: list[LogFollower], needle: str, messages: set[str],
                      timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for follower in followers for line in follower.lines_with(needle)]
        if messages <= {line["message"] for line in lines}:
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"missing {messages - {line['message'] for line in lines}} in {lines}")
        time.sleep(0.1)


def test_one_request_id_finds_the_transaction_its_settlement_notifications_and_callback(live_stack,
                                                                                       callback_server):
    # given: a partner with a callback URL and a linked customer who gets emails
    web, worker = live_stack
    ivan = customer(balance="30.00", phone="+33612349901")
    offer = OfferFactory(price=Decimal("10.00"))
    credentials = partner(callback_url=callback_server.url, customers=[ivan])
    request_id = f"trace-{uuid.uuid4()}"
    logs = [LogFollower(web.log_path), LogFollower(worker.log_path)]

    # when: the partner activates, naming its request
    body = body_of({"reference": "TRACE-1", "customer": "+33612349901", "offer_id": offer.id})
    response = requests.post(f"{web.url}{ACTIVATE}", data=body,
                             headers={**signed_headers(credentials, "POST", ACTIVATE, body), "X-Request-ID": request_id})
    assert response.status_code == 202, response.text
    transaction_id = response.json()["transaction_id"]
    [txn] = wait_until_terminal([transaction_id])
    [received] = callback_server.wait_for(1)

    # then: the response, the row, the notifications and the callback carry it
    assert response.headers["X-Request-ID"] == request_id
    assert (txn.status, txn.request_id) == ("SUCCEEDED", request_id)
    assert received.headers["X-Request-ID"] == request_id
    assert CallbackDelivery.objects.get(transaction_id=transaction_id).request_id == request_id
    told = Notification.objects.filter(data__transaction_id=transaction_id)
    assert sorted(told.values_list("channel", "request_id")) == [("email", request_id), ("in_app", request_id)]
    # and: one search for the id finds each step's line, the worker's naming their task
    lines = wait_for_messages(logs, request_id, {"transaction accepted", "transaction finished", "email sent",
                                                 "partner callback delivered"})
    by_message = {line["message"]: line for line in lines}
    assert all(line["request_id"] == request_id for line in lines)
    assert {by_message[m]["transaction_id"] for m in ("transaction accepted", "transaction finished", "email sent",
                                                      "partner callback delivered")} == {transaction_id}
    assert by_message["transaction finished"]["task_name"] == "activation.tasks.transaction_settle_task"
    assert by_message["transaction finished"]["status"] == "SUCCEEDED"
    assert by_message["partner callback delivered"]["task_name"] == "partners.tasks.partner_callback_deliver_task"
    assert {"timestamp", "level", "logger"} <= set(by_message["email sent"])


def test_the_live_server_generates_an_id_when_the_client_sends_a_bad_one(live_web):
    # when
    response = requests.get(f"{live_web.url}/health/", headers={"X-Request-ID": "not a safe id"})
    missing = requests.get(f"{live_web.url}/no/such/path/")

    # then
    assert len(response.headers["X-Request-ID"]) == 32 and response.headers["X-Request-ID"] != "not a safe id"
    assert missing.status_code == 404 and len(missing.headers["X-Request-ID"]) == 32


def test_a_body_over_the_limit_is_refused_with_the_id(live_web):
    # when
    response = requests.post(f"{live_web.url}/api/v1/activation/", data=b"x" * (64 * 1024 + 1),
                             headers={"Content-Type": "application/json", "X-Request-ID": "rid-413"})

    # then
    assert response.status_code == 413
    assert response.headers.get("X-Request-ID") == "rid-413"
