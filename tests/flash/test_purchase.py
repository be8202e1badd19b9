"""Completing a hold buys the unit: the promo price is debited through the ledger; a refusal
keeps the hold; one customer buys at most the promo's per-customer cap."""
from decimal import Decimal

import pytest

from accounts.models import Account
from activation.models import Transaction
from activation.services import transactions_settle
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION
from tests.factories import SegmentFactory, bearer, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo
from tests.helpers import assert_ledger_matches_balance, run_at_once


def reserve(user, promo) -> Transaction:
    txn = Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def shopper(segment, balance):
    return customer(segment=segment, latitude=latitude_north_of_store(1), longitude=STORE_LON, balance=balance)


@pytest.mark.django_db
def test_completing_charges_the_promo_price_and_a_short_balance_keeps_the_hold(api_client):
    # given: a 49.00 promo; a customer with 30.00
    gold = SegmentFactory(slug="gold-pay")
    promo = running_promo(segments=[gold], quantity=2)
    user = shopper(gold, "30.00")
    hold = reserve(user, promo)
    url = f"/api/v1/promotions/reservations/{hold.result['reservation_id']}/complete/"

    # when: completing with too little money, then after a top-up
    short = api_client.post(url, {}, format="json", HTTP_AUTHORIZATION=bearer(user))
    from accounts.services import account_top_up
    account_top_up(user=user, amount=Decimal("20.00"))
    paid = api_client.post(url, {}, format="json", HTTP_AUTHORIZATION=bearer(user))
    again = api_client.post(url, {}, format="json", HTTP_AUTHORIZATION=bearer(user))

    # then: a 409 refusal that charged nothing and kept the hold, then one charge of 49.00
    assert short.status_code == 409 and short.json()["code"] == "insufficient_balance"
    assert Transaction.objects.get(pk=short.json()["details"]["transaction_id"]).status == "FAILED"
    assert paid.status_code == 200 and paid.json()["status"] == "completed"
    assert again.status_code == 200 and again.json()["purchase_transaction_id"] == paid.json()["purchase_transaction_id"]
    assert Account.objects.get(user=user).balance == Decimal("1.00")
    assert assert_ledger_matches_balance(user) == Decimal("1.00")
    purchase = Transaction.objects.get(pk=paid.json()["purchase_transaction_id"])
    assert (purchase.kind, purchase.status, purchase.amount) == ("flash_purchase", "SUCCEEDED", Decimal("49.00"))


@pytest.mark.django_db
def test_one_customer_cannot_buy_every_unit():
    # given: 5 units, the default cap of one per customer
    gold = SegmentFactory(slug="gold-cap")
    promo = running_promo(segments=[gold], quantity=5)
    user = shopper(gold, "500.00")
    from offers.flash.services import flash_reservation_complete

    # when: buy one, then try again and again
    first = reserve(user, promo)
    flash_reservation_complete(user_id=user.id, reservation_id=first.result["reservation_id"])
    later = [reserve(user, promo) for _ in range(3)]

    # then
    assert [t.failure_code for t in later] == ["customer_limit_reached"] * 3
    assert FlashReservation.objects.filter(user=user, status="completed").count() == 1


@pytest.mark.django_db
def test_a_higher_cap_lets_a_customer_buy_that_many():
    from offers.flash.services import flash_reservation_complete

    gold = SegmentFactory(slug="gold-cap2")
    promo = running_promo(segments=[gold], quantity=5, max_units_per_customer=2)
    user = shopper(gold, "500.00")
    for _ in range(2):
        hold = reserve(user, promo)
        flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])
    assert reserve(user, promo).failure_code == "customer_limit_reached"
    assert assert_ledger_matches_balance(user) == Decimal("402.00")


@pytest.mark.django_db
def test_a_missing_account_is_a_refusal_in_settlement_never_an_exception():
    # given: a customer whose account row is gone (the database allows it; nothing creates it again)
    from accounts.models import LedgerEntry
    from offers.services import KIND_OFFER_ACTIVATION
    from tests.factories import OfferFactory

    user = customer()
    LedgerEntry.objects.filter(account__user=user).delete()
    Account.objects.filter(user=user).delete()
    offer = OfferFactory()

    # when
    txn = Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, amount=offer.price,
                                     currency=offer.currency, payload={"offer_id": offer.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)

    # then: failed at once with a reason, not retried until settlement_error
    txn.refresh_from_db()
    assert (txn.status, txn.failure_code, txn.attempts) == ("FAILED", "no_account", 1)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_completions_of_one_hold_charge_once():
    from offers.flash.services import flash_reservation_complete

    # given: a held unit and money for three of them
    gold = SegmentFactory(slug="gold-race")
    promo = running_promo(segments=[gold], quantity=3)
    user = shopper(gold, "147.00")
    hold = reserve(user, promo)
    purchases = []

    # when: ten completions at once
    run_at_once(lambda: purchases.append(flash_reservation_complete(
        user_id=user.id, reservation_id=hold.result["reservation_id"]).transaction.id), [()] * 10)

    # then: one purchase, one charge
    assert len(purchases) == 10 and len(set(purchases)) == 1
    assert Transaction.objects.filter(kind="flash_purchase").count() == 1
    assert assert_ledger_matches_balance(user) == Decimal("98.00")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_reservations_by_one_customer_respect_the_cap(monkeypatch):
    from offers.flash import services

    # given: plenty of units, a cap of one; no expiry messages (a live worker would outlive the test)
    monkeypatch.setattr(services, "flash_holds_expiry_schedule", lambda **kwargs: None)
    gold = SegmentFactory(slug="gold-race2")
    promo = running_promo(segments=[gold], quantity=10)
    user = shopper(gold, "500.00")
    txns = [Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id})
            for _ in range(8)]

    # when: eight reservations of one customer settled at once
    run_at_once(lambda txn: transactions_settle(transaction_id=txn.id, batch_size=1), [(t,) for t in txns])

    # then: one hold
    statuses = [Transaction.objects.get(pk=t.pk).status for t in txns]
    assert statuses.count("SUCCEEDED") == 1
    assert FlashReservation.objects.filter(user=user, status="held").count() == 1
