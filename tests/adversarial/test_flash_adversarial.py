"""Adversarial: flash purchases against staff edits of a running promo, caps and reversals."""
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from kernel.errors import ConflictError
from offers.flash.models import FlashPromo, FlashReservation
from offers.flash.services import (KIND_FLASH_RESERVATION, HoldExpired, flash_promo_update,
                                   flash_reservation_complete)
from tests.factories import SegmentFactory, customer
from tests.flash.factories import STORE_LON, latitude_north_of_store, running_promo
from tests.helpers import assert_ledger_matches_balance


def reserve(user, promo) -> Transaction:
    txn = Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=user, payload={"promo_id": promo.id})
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def shopper(segment, balance="500.00"):
    return customer(segment=segment, latitude=latitude_north_of_store(1), longitude=STORE_LON, balance=balance)


def staff_reverse(txn) -> Transaction:
    staff = customer(is_staff=True)
    return transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)


@pytest.mark.django_db
def test_a_hold_is_bought_at_the_price_it_was_held_at():
    # given: a hold at 49.00 (its result tells the customer so)
    gold = SegmentFactory(slug="adv-price")
    promo = running_promo(segments=[gold], quantity=2)
    user = shopper(gold)
    hold = reserve(user, promo)
    assert hold.result["promo_price"] == "49.00"

    # when: staff change the promo price, then the customer completes
    flash_promo_update(promo=promo, promo_price=Decimal("99.00"))
    purchase = flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])

    # then: charged what they were shown
    assert purchase.transaction.amount == Decimal("49.00"), (
        f"held at 49.00, charged {purchase.transaction.amount}")


@pytest.mark.django_db
def test_staff_cannot_lower_a_promos_quantity_below_the_units_already_taken():
    # given: 3 units, each held by a different customer
    gold = SegmentFactory(slug="adv-qty")
    promo = running_promo(segments=[gold], quantity=3)
    users = [shopper(gold) for _ in range(3)]
    holds = [reserve(u, promo) for u in users]
    assert all(h.status == "SUCCEEDED" for h in holds)

    # when: staff lower the quantity to 1, then every holder completes
    try:
        flash_promo_update(promo=promo, quantity=1)
    except ConflictError:
        return  # refused: fine
    for user, hold in zip(users, holds):
        flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])

    # then: never more units sold than the promo has
    promo.refresh_from_db()
    sold = FlashReservation.objects.filter(promo=promo, status="completed").count()
    assert sold <= promo.quantity, f"{sold} units sold of a promo of {promo.quantity}"


@pytest.mark.django_db
def test_a_hold_on_a_cancelled_promo_cannot_be_bought():
    gold = SegmentFactory(slug="adv-cancel")
    promo = running_promo(segments=[gold], quantity=2)
    user = shopper(gold)
    hold = reserve(user, promo)
    flash_promo_update(promo=promo, status=FlashPromo.Status.CANCELLED)

    try:
        purchase = flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])
    except (HoldExpired, ConflictError):
        return
    assert purchase.transaction.status == "FAILED", "a withdrawn promo was still sold (charged "\
        f"{purchase.transaction.amount})"


@pytest.mark.django_db
def test_cap_of_two_with_reversals_in_between_never_exceeds_two_live_units():
    # given: cap 2
    gold = SegmentFactory(slug="adv-cap2")
    promo = running_promo(segments=[gold], quantity=10, max_units_per_customer=2)
    user = shopper(gold)
    purchases = []
    for _ in range(2):
        hold = reserve(user, promo)
        assert hold.status == "SUCCEEDED", hold.failure_code
        purchases.append(flash_reservation_complete(user_id=user.id,
                                                    reservation_id=hold.result["reservation_id"]).transaction)
    third = reserve(user, promo)
    assert third.failure_code == "customer_limit_reached"
    # reversing a purchase frees one unit; reversing its hold afterwards must not free another
    staff_reverse(purchases[0])
    held_txn = Transaction.objects.get(pk=FlashReservation.objects.get(purchase_transaction_id=purchases[0].id)
                                       .transaction_id)
    staff_reverse(held_txn)
    again = [reserve(user, promo) for _ in range(2)]
    live = FlashReservation.objects.filter(promo=promo, user=user, status__in=["held", "completed"]).count()
    assert live <= 2, ([a.status for a in again], live)
    assert_ledger_matches_balance(user)


@pytest.mark.django_db
def test_completing_twice_and_reversing_charges_net_zero():
    gold = SegmentFactory(slug="adv-twice")
    promo = running_promo(segments=[gold], quantity=2)
    user = shopper(gold, balance="100.00")
    hold = reserve(user, promo)
    rid = hold.result["reservation_id"]
    first = flash_reservation_complete(user_id=user.id, reservation_id=rid)
    second = flash_reservation_complete(user_id=user.id, reservation_id=rid)
    assert first.transaction.id == second.transaction.id
    staff_reverse(first.transaction)
    with pytest.raises(HoldExpired):
        flash_reservation_complete(user_id=user.id, reservation_id=rid)
    assert Account.objects.get(user=user).balance == Decimal("100.00")
    assert assert_ledger_matches_balance(user) == Decimal("100.00")
    assert timezone.now()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_reversing_a_hold_while_it_is_completed_never_frees_a_bought_unit():
    import threading

    from django.db import connection

    gold = SegmentFactory(slug="adv-race")
    promo = running_promo(segments=[gold], quantity=1)
    user = shopper(gold, balance="100.00")
    hold = reserve(user, promo)
    staff = customer(is_staff=True)
    barrier = threading.Barrier(2)
    errors = []

    def complete():
        try:
            barrier.wait()
            flash_reservation_complete(user_id=user.id, reservation_id=hold.result["reservation_id"])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def reverse():
        try:
            barrier.wait()
            transaction_reverse(transaction_id=hold.id, requested_by_id=staff.id, as_staff=True)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete), threading.Thread(target=reverse)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reservation = FlashReservation.objects.get(pk=hold.result["reservation_id"])
    balance = assert_ledger_matches_balance(user)
    assert (reservation.status, balance) in (("completed", Decimal("51.00")), ("released", Decimal("100.00"))), \
        (reservation.status, balance, errors)
    assert len(errors) == 1
