"""X-Request-ID: accepted from the client when it is a safe token, generated otherwise,
returned on every response (successes, refusals, errors written by views, the exception
handler and middleware), and stored on the transaction the request creates. Through both
of Django's handlers: the test client is WSGI, AsyncClient is ASGI."""
import re
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.test import AsyncClient, Client

from activation.models import Transaction
from kernel.log_format import LogContextFilter
from kernel.request_id import MAX_LENGTH, request_id_accept
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


def wsgi_client() -> Client:
    return Client(raise_request_exception=False)


def test_an_id_is_generated_when_the_client_sends_none():
    # when
    first = wsgi_client().get("/health/")
    second = wsgi_client().get("/health/")

    # then
    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("sent", ["3f2a9c1e-7b4d-4e0a-9f6b-2c8d1e5a7b90", "req_42", "edge.lb:1700000000:abc",
                                  "a" * MAX_LENGTH])
def test_a_safe_client_id_is_echoed(sent):
    # when
    response = wsgi_client().get("/health/", HTTP_X_REQUEST_ID=sent)

    # then
    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["", "a" * (MAX_LENGTH + 1), "two words", "<script>", "id;drop", 'q"uote', "é",
                                  "-leading-dash", "tab\there"])
def test_an_unsafe_or_overlong_client_id_is_replaced_by_a_new_one(sent):
    # when
    response = wsgi_client().get("/health/", HTTP_X_REQUEST_ID=sent)

    # then
    assert GENERATED.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]


def test_request_id_accept_keeps_only_safe_tokens():
    assert request_id_accept("abc-123") == "abc-123"
    assert request_id_accept(None) != request_id_accept(None)
    assert GENERATED.fullmatch(request_id_accept("a\r\nSet-Cookie: x=1"))


def test_refusals_and_errors_carry_the_id(monkeypatch):
    # given
    user = customer()
    client = wsgi_client()

    # when / then: 404 (no route), 401 (no token), 400 (bad body), 405
    for method, path, kwargs, status in [
        ("get", "/no/such/path/", {}, 404),
        ("get", "/api/v1/account/balance/", {}, 401),
        ("post", "/api/v1/activation/", {"data": "{", "content_type": "application/json",
                                         "HTTP_AUTHORIZATION": bearer(user)}, 400),
        ("delete", "/health/", {}, 405),
    ]:
        response = getattr(client, method)(path, HTTP_X_REQUEST_ID=f"rid-{status}", **kwargs)
        assert response.status_code == status, (path, response.content)
        assert response["X-Request-ID"] == f"rid-{status}"


def test_a_503_from_the_exception_handler_and_a_500_carry_the_id(monkeypatch):
    # given: the database fails under a DRF view (503), then a bug (500)
    user = customer()
    client = wsgi_client()

    def database_down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("activation.api.views.transaction_list_for_user", database_down)
    # when
    unavailable = client.get("/api/v1/account/transactions/", HTTP_AUTHORIZATION=bearer(user),
                             HTTP_X_REQUEST_ID="rid-503")

    def bug(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("activation.api.views.transaction_list_for_user", bug)
    crashed = client.get("/api/v1/account/transactions/", HTTP_AUTHORIZATION=bearer(user),
                         HTTP_X_REQUEST_ID="rid-500")

    # then
    assert unavailable.status_code == 503 and unavailable["X-Request-ID"] == "rid-503"
    assert crashed.status_code == 500 and crashed["X-Request-ID"] == "rid-500"


def test_a_503_written_by_the_readiness_view_carries_the_id(monkeypatch):
    # given
    monkeypatch.setattr("monitoring.checks.database_check", lambda: "connection refused")

    # when
    response = wsgi_client().get("/ready/", HTTP_X_REQUEST_ID="rid-ready")

    # then
    assert response.status_code == 503 and response["X-Request-ID"] == "rid-ready"


def test_a_throttled_login_carries_the_id():
    # given: the login scope allows 10 a minute per client
    client = wsgi_client()
    statuses = []

    # when
    for n in range(12):
        response = client.post("/api/v1/auth/login/", {"username": "nobody", "password": "wrong"},
                               content_type="application/json", HTTP_X_REQUEST_ID=f"login-{n}")
        statuses.append(response.status_code)
        assert response["X-Request-ID"] == f"login-{n}"

    # then
    assert statuses[-1] == 429, statuses


@pytest.mark.django_db(transaction=True)
def test_the_transaction_row_stores_the_request_id_under_wsgi_and_asgi():
    # given
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("1.00"))

    # when: once through the WSGI handler, once through the ASGI handler (the sync DRF view
    # runs in a thread there: the id must reach it)
    wsgi = wsgi_client().post("/api/v1/activation/", {"offer_id": offer.id}, content_type="application/json",
                              HTTP_AUTHORIZATION=bearer(user), HTTP_X_REQUEST_ID="trace-wsgi")
    from asgiref.sync import async_to_sync

    asgi = async_to_sync(AsyncClient().post)("/api/v1/activation/", {"offer_id": offer.id},
                                             content_type="application/json",
                                             headers={"Authorization": bearer(user), "X-Request-ID": "trace-asgi"})

    # then
    assert wsgi.status_code == asgi.status_code == 202, (wsgi.content, asgi.content)
    assert asgi["X-Request-ID"] == "trace-asgi"
    rows = {t.request_id: str(t.id) for t in Transaction.objects.filter(user=user)}
    assert rows == {"trace-wsgi": wsgi.json()["transaction_id"], "trace-asgi": asgi.json()["transaction_id"]}


def test_an_idempotent_replay_answers_with_its_own_id_and_keeps_the_original_on_the_row(caplog):
    # given
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("1.00"))
    client = wsgi_client()
    headers = {"HTTP_AUTHORIZATION": bearer(user), "HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = client.post("/api/v1/activation/", {"offer_id": offer.id}, content_type="application/json",
                        HTTP_X_REQUEST_ID="first-try", **headers)

    caplog.handler.addFilter(LogContextFilter())

    # when
    with caplog.at_level("INFO", logger="activation.services.accept"):
        replay = client.post("/api/v1/activation/", {"offer_id": offer.id}, content_type="application/json",
                             HTTP_X_REQUEST_ID="second-try", **headers)

    # then
    assert replay.json()["transaction_id"] == first.json()["transaction_id"]
    assert replay["X-Request-ID"] == "second-try"
    assert Transaction.objects.get(pk=first.json()["transaction_id"]).request_id == "first-try"
    [line] = [r for r in caplog.records if r.getMessage() == "transaction replayed"]
    assert (line.request_id, line.transaction_id) == ("second-try", first.json()["transaction_id"])
