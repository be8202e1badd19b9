"""A web process that owes the broker a settlement message logs the outage once when it
starts owing and once when the broker takes the message, not on every retry."""
import logging
import time

from activation.services import dispatch


def test_one_line_when_owing_and_one_when_paid_not_one_per_retry(monkeypatch, caplog):
    from celery import current_app

    refusals = {"left": 5}

    def send_task(name, **kwargs):
        if refusals["left"]:
            refusals["left"] -= 1
            raise ConnectionError("broker unreachable")

    monkeypatch.setattr(current_app, "send_task", send_task)
    monkeypatch.setattr(dispatch, "BROKER_RETRY_SECONDS", 0.01)

    # when: a request's publish is refused, then the retry thread tries until the broker answers
    with caplog.at_level(logging.WARNING):
        assert dispatch.settlement_message_publish(None) is False
        deadline = time.monotonic() + 5
        while dispatch._message_owed.locked() and time.monotonic() < deadline:
            time.sleep(0.01)

    # then: paid, with the refused request's line, one when owing starts and one when paid
    assert refusals["left"] == 0 and not dispatch._message_owed.locked()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if m.startswith("could not publish")]) == 1
    assert len([m for m in messages if "refused a settlement message" in m]) == 1
    assert len([m for m in messages if "took the owed settlement message" in m]) == 1
    monkeypatch.setattr(dispatch, "_broker_down_until", 0.0)
