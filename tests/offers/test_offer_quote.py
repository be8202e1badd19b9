"""The accept paths quote an offer from a short per-process cache (offers.selectors.offer_quote);
settlement always re-reads it."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activation.models import Transaction
from activation.services import transactions_settle
from offers.selectors import offer_quote
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db


def test_a_quoted_offer_is_read_once_then_served_from_the_cache():
    offer = OfferFactory()
    offer_quote(offer.id)
    with CaptureQueriesContext(connection) as queries:
        assert offer_quote(offer.id).price == offer.price
    assert len(queries) == 0


def test_an_unknown_offer_is_not_cached_so_a_new_one_is_seen_at_once():
    assert offer_quote(2_000_000_000) is None
    with CaptureQueriesContext(connection) as queries:
        assert offer_quote(2_000_000_000) is None
    assert len(queries) == 1


def test_a_price_change_saved_in_this_process_is_quoted_at_once(api_client):
    # given: the offer has been quoted (cached)
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("10.00"))
    assert offer_quote(offer.id).price == Decimal("10.00")

    # when: an operator changes the price
    offer.price = Decimal("12.50")
    offer.save()

    # then: the next activation is accepted at the new price
    response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202
    assert Transaction.objects.get(pk=response.json()["transaction_id"]).amount == Decimal("12.50")


def test_the_cache_expires(settings, monkeypatch):
    settings.OFFER_CACHE_SECONDS = 5
    offer = OfferFactory(price=Decimal("10.00"))
    offer_quote(offer.id)
    type(offer).objects.filter(pk=offer.pk).update(price=Decimal("11.00"))  # bypasses signals
    assert offer_quote(offer.id).price == Decimal("10.00")

    import offers.selectors as selectors
    now = selectors.time.monotonic()
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now + 6)
    assert offer_quote(offer.id).price == Decimal("11.00")


def test_an_offer_deactivated_behind_the_cache_still_fails_at_settlement(api_client):
    # given: a quoted offer, deactivated without this process noticing (another process)
    user = customer(balance="100.00")
    offer = OfferFactory()
    offer_quote(offer.id)
    type(offer).objects.filter(pk=offer.pk).update(is_active=False)

    # when: an activation is accepted from the stale quote and settled
    response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # then: settlement re-read the offer and refused it; nothing was charged
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert (txn.status, txn.failure_code) == ("FAILED", "offer_inactive")
    user.account.refresh_from_db()
    assert user.account.balance == Decimal("100.00")


def test_an_offer_that_changed_currency_behind_the_cache_fails_at_settlement_and_charges_nothing(api_client):
    # given: a quoted offer whose currency another process changed (this one still caches it)
    user = customer(balance="100.00")
    offer = OfferFactory(price=Decimal("10.00"))
    quoted = offer_quote(offer.id)
    other = "JPY" if quoted.currency != "JPY" else "USD"
    type(offer).objects.filter(pk=offer.pk).update(currency=other, price=Decimal("1500.00"))

    # when: accepted at the stale quote, then settled
    response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 202
    transactions_settle(transaction_id=response.json()["transaction_id"])

    # then: the quoted amount is in a currency the offer no longer has: refused, nothing charged
    txn = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert (txn.amount, txn.currency) == (Decimal("10.00"), quoted.currency)
    assert (txn.status, txn.failure_code) == ("FAILED", "currency_mismatch")
    user.account.refresh_from_db()
    assert user.account.balance == Decimal("100.00")
