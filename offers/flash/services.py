"""Every write of stores, products, flash promos and reservations, and the eligibility rule.

Locks: a reservation is only created, completed or expired with its promo row locked
(`offers.locks.flash_promo_for_update`), so "units left = quantity - completed - active holds" is exact.
Settlement takes the account first (rank 10) and the promo second (rank 40); the
synchronous paths (complete, expire, sweeper) take only the promo, so the order holds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta
from typing import Iterable
from uuid import UUID

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from accounts.models import Account, CustomerProfile, Segment
from accounts.money import money_whole_require
from accounts.services import account_debit, account_refund
from activation.models import Transaction
from activation.registry import Outcome
from activation.services import Accepted, rows_lock, transaction_accept, transaction_record_settled
from kernel.errors import ConflictError, NotFound
from offers.errors import OfferFailure
from offers.flash.errors import FlashFailure, HoldExpired
from offers.flash.geo import bounding_box, haversine_km
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation, Product, Store
from offers.locks import account_lock_target, flash_promo_for_update, flash_promo_lock_target
from offers.signals import flash_promo_started

logger = logging.getLogger(__name__)

KIND_FLASH_RESERVATION = "flash_reservation"
KIND_FLASH_PURCHASE = "flash_purchase"

REASON_NOT_RUNNING = "not_running"
REASON_SEGMENT = "segment"
REASON_DISTANCE = "distance"


# --- the rules ----------------------------------------------------------------------------------

def flash_promo_is_running(*, promo: FlashPromo, now: datetime) -> bool:
    return promo.status == FlashPromo.Status.ACTIVE and promo.starts_at <= now < promo.ends_at


def flash_promo_ineligibility(*, promo: FlashPromo, profile: CustomerProfile | None, now: datetime,
                              segment_ids: set[int] | None = None) -> str | None:
    """Why this customer may not take this promo now (None: they may). `segment_ids` lets a
    caller that checks many customers pass the promo's segments once."""
    if not flash_promo_is_running(promo=promo, now=now):
        return REASON_NOT_RUNNING
    if segment_ids is None:
        segment_ids = set(promo.segments.values_list("pk", flat=True))
    if profile is None or profile.segment_id not in segment_ids:
        return REASON_SEGMENT
    if not flash_promo_within_radius(promo=promo, latitude=profile.latitude, longitude=profile.longitude):
        return REASON_DISTANCE
    return None


def flash_promo_within_radius(*, promo: FlashPromo, latitude, longitude) -> bool:
    if latitude is None or longitude is None:
        return False
    store = promo.product.store
    return haversine_km(latitude, longitude, store.latitude, store.longitude) <= float(promo.radius_km)


def _units_taken(*, promo: FlashPromo, now: datetime) -> QuerySet[FlashReservation]:
    """A unit is taken while held (unexpired) or bought."""
    return FlashReservation.objects.filter(promo=promo).filter(
        status__in=[FlashReservation.Status.COMPLETED, FlashReservation.Status.HELD]).exclude(
        status=FlashReservation.Status.HELD, expires_at__lte=now)


def flash_promo_units_left(*, promo: FlashPromo, now: datetime) -> int:
    """Exact only with the promo row locked; a listing may show a slightly stale number."""
    return max(promo.quantity - _units_taken(promo=promo, now=now).count(), 0)


def flash_hold_refusal(*, promo: FlashPromo, held: FlashReservation | None, customer_units: int,
                       units_left: int) -> str | None:
    """Why an eligible customer gets no hold (None: they get one), from what is taken under the
    promo's lock: their own unexpired hold, the units they hold or bought, the units left."""
    if held is not None:
        return FlashFailure.ALREADY_HOLDING
    if customer_units >= promo.max_units_per_customer:
        return FlashFailure.CUSTOMER_LIMIT_REACHED
    if units_left <= 0:
        return OfferFailure.SOLD_OUT
    return None


# --- staff CRUD ---------------------------------------------------------------------------------

def store_create(**fields) -> Store:
    return Store.objects.create(**fields)


def store_update(*, store: Store, **fields) -> Store:
    for name, value in fields.items():
        setattr(store, name, value)
    store.save()
    return store


def product_create(**fields) -> Product:
    product = Product(**fields)
    money_whole_require(product.currency, regular_price=product.regular_price)
    product.save()
    return product


def product_update(*, product: Product, **fields) -> Product:
    """Its promos' prices (and the holds taken at them) are amounts of its currency, which
    cannot change under them."""
    if fields.get("currency", product.currency) != product.currency and product.flash_promos.exists():
        raise ConflictError("The currency of a product with flash promos cannot change: their prices are in it.",
                            code="currency_in_use")
    for name, value in fields.items():
        setattr(product, name, value)
    if fields.keys() & {"regular_price", "currency"}:
        money_whole_require(product.currency, regular_price=product.regular_price)
    product.save()
    return product


def catalogue_row_delete(*, instance: Store | Product) -> None:
    try:
        instance.delete()
    except ProtectedError:
        raise ConflictError(f"This {instance._meta.verbose_name} is still in use.", code="in_use")


def flash_promo_create(*, segments: Iterable[Segment], **fields) -> FlashPromo:
    with db_transaction.atomic():
        promo = FlashPromo(**fields)
        money_whole_require(promo.product.currency, promo_price=promo.promo_price)
        promo.save()
        promo.segments.set(segments)
        flash_promo_start_schedule(promo=promo)
    return promo


def flash_promo_update(*, promo: FlashPromo, segments: Iterable[Segment] | None = None, **fields) -> FlashPromo:
    """A change of starts_at re-arms the start notification for the new time."""
    with db_transaction.atomic():
        promo = flash_promo_for_update().get(pk=promo.pk)
        taken = _units_taken(promo=promo, now=timezone.now()).count()
        if "quantity" in fields and fields["quantity"] < taken:
            raise ConflictError("The quantity cannot go below the units already held or bought.",
                                code="quantity_below_taken", details={"units_taken": taken})
        start_moved = "starts_at" in fields and fields["starts_at"] != promo.starts_at
        for name, value in fields.items():
            setattr(promo, name, value)
        if fields.keys() & {"promo_price", "product"}:
            money_whole_require(promo.product.currency, promo_price=promo.promo_price)
        if start_moved:
            promo.start_notified_at = None
        promo.save()
        if segments is not None:
            promo.segments.set(segments)
        if start_moved:
            flash_promo_start_schedule(promo=promo)
    return promo


def flash_promo_delete(*, promo: FlashPromo) -> None:
    """A promo that has reservations is kept for the record: cancel it instead."""
    with db_transaction.atomic():
        promo = flash_promo_for_update().get(pk=promo.pk)
        if promo.reservations.exists():
            raise ConflictError("This promo has reservations; set its status to cancelled instead.", code="in_use")
        promo.delete()


# --- reservations ---------------------------------------------------------------------------------

def flash_reservation_request(*, user_id: int, promo: FlashPromo, idempotency_key: str | None) -> Accepted:
    """Accepts a reservation; settlement locks the promo, re-checks eligibility and holds a unit."""
    return transaction_accept(kind=KIND_FLASH_RESERVATION, user_id=user_id, payload={"promo_id": promo.id},
                              idempotency_key=idempotency_key)


@dataclass(frozen=True)
class FlashHoldRequest:
    transaction_id: UUID
    user_id: int
    promo_id: int


@dataclass(frozen=True)
class FlashHoldDecision:
    """The new hold, or why there is none: `reason` (not eligible: REASON_*) or `refusal` (a
    failure code of flash_hold_refusal); `reservation` is then the hold the customer already has."""

    reservation: FlashReservation | None = None
    reason: str | None = None
    refusal: str | None = None


def flash_holds_settle(*, requests: list[FlashHoldRequest], locked, now: datetime) -> list[FlashHoldDecision]:
    """Decides reservations in arrival order, as one at a time would, with the customers'
    accounts and the promos locked (`locked`: the engine's LockedRows). Per promo: one read of
    the customers' profiles (eligibility), lapsed holds expired, one read each of the units
    taken and of the customers' own, every request decided in memory, and the new holds
    inserted in one statement, with one expiry message per promo after commit."""
    decisions: list[FlashHoldDecision | None] = [None] * len(requests)
    by_promo: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        by_promo.setdefault(request.promo_id, []).append(index)
    for promo_id, indexes in by_promo.items():
        promo = locked.get(FlashPromo, "id", promo_id)
        if promo is None:
            for index in indexes:
                decisions[index] = FlashHoldDecision(reason=REASON_NOT_RUNNING)
            continue
        _promo_holds_decide(promo=promo, requests=requests, indexes=indexes, decisions=decisions, now=now)
    return decisions


def _promo_holds_decide(*, promo: FlashPromo, requests: list[FlashHoldRequest], indexes: list[int],
                        decisions: list, now: datetime) -> None:
    user_ids = {requests[i].user_id for i in indexes}
    profiles = {p.user_id: p for p in CustomerProfile.objects.filter(user_id__in=user_ids)
                .only("user_id", "segment_id", "latitude", "longitude")}
    segment_ids = set(promo.segments.values_list("pk", flat=True))
    eligible = []
    for index in indexes:
        reason = flash_promo_ineligibility(promo=promo, profile=profiles.get(requests[index].user_id), now=now,
                                           segment_ids=segment_ids)
        if reason:
            decisions[index] = FlashHoldDecision(reason=reason)
        else:
            eligible.append(index)
    if not eligible:
        return
    flash_holds_lapse(promo=promo, now=now)
    units_left = flash_promo_units_left(promo=promo, now=now)
    held: dict[int, FlashReservation] = {}
    customer_units: dict[int, int] = {}
    for reservation in _units_taken(promo=promo, now=now).filter(user_id__in={requests[i].user_id for i in eligible}).only(
            "id", "user_id", "status", "expires_at"):
        customer_units[reservation.user_id] = customer_units.get(reservation.user_id, 0) + 1
        if reservation.status == FlashReservation.Status.HELD:
            held[reservation.user_id] = reservation
    new_holds = []
    for index in eligible:
        request = requests[index]
        refusal = flash_hold_refusal(promo=promo, held=held.get(request.user_id),
                                     customer_units=customer_units.get(request.user_id, 0), units_left=units_left)
        if refusal:
            decisions[index] = FlashHoldDecision(refusal=refusal, reservation=held.get(request.user_id))
            continue
        reservation = FlashReservation(promo=promo, user_id=request.user_id, transaction_id=request.transaction_id,
                                       price=promo.promo_price, expires_at=now + timedelta(seconds=promo.hold_seconds))
        new_holds.append(reservation)
        held[request.user_id] = reservation
        customer_units[request.user_id] = customer_units.get(request.user_id, 0) + 1
        units_left -= 1
        decisions[index] = FlashHoldDecision(reservation=reservation)
    flash_holds_place(new_holds)


def flash_holds_place(reservations: list[FlashReservation]) -> None:
    """With the promo locked and every rule checked: the holds in one INSERT and, after commit,
    one expiry message per promo for the lot. A batch's holds lapse together (made at the same
    moment, for the promo's hold_seconds); a message per hold was ~75 % of a batch's time."""
    if not reservations:
        return
    FlashReservation.objects.bulk_create(reservations)
    lapse_at: dict[int, datetime] = {}
    for reservation in reservations:
        lapse_at[reservation.promo_id] = max(lapse_at.get(reservation.promo_id, reservation.expires_at),
                                             reservation.expires_at)
    for promo_id, expires_at in lapse_at.items():
        db_transaction.on_commit(partial(flash_holds_expiry_schedule, promo_id=promo_id, expires_at=expires_at),
                                 robust=True)


def flash_holds_lapse(*, promo: FlashPromo, now: datetime) -> int:
    """With the promo locked: every hold past its expiry becomes EXPIRED (its unit is free)."""
    return FlashReservation.objects.filter(promo=promo, status=FlashReservation.Status.HELD,
                                           expires_at__lte=now).update(status=FlashReservation.Status.EXPIRED,
                                                                       updated_at=now)


def flash_holds_expiry_schedule(*, promo_id: int, expires_at: datetime) -> None:
    """Asks for the promo's lapsed holds to be expired just after `expires_at`."""
    from kernel.tasks import task_publish

    countdown = max((expires_at - timezone.now()).total_seconds(), 0) + 0.5
    # The broker down: the sweeper (flash_reservations_expire_lapsed) expires them.
    task_publish("offers.flash.tasks.flash_promo_holds_expire_task", args=[str(promo_id), expires_at.isoformat()],
                 countdown=countdown)


@dataclass(frozen=True)
class FlashPurchase:
    reservation: FlashReservation
    transaction: Transaction | None  # the purchase; FAILED when refused (the hold then stays)


def flash_reservation_complete(*, user_id: int, reservation_id: int) -> FlashPurchase:
    """Buys the held unit at the promo price, synchronously: the unit is already this
    customer's, so there is nothing to queue for. Under the account and promo locks a
    `flash_purchase` transaction debits the price through the ledger; a refusal
    (insufficient balance, currency) is that transaction FAILED and the hold stays until it
    lapses. Completing twice returns the first purchase; after the expiry: HoldExpired."""
    reservation = FlashReservation.objects.filter(pk=reservation_id, user_id=user_id).first()
    if reservation is None:
        raise NotFound("Unknown reservation.")
    now = timezone.now()
    with db_transaction.atomic():
        locked = rows_lock([account_lock_target(user_id), flash_promo_lock_target(reservation.promo_id)])
        promo = locked.get(FlashPromo, "id", reservation.promo_id)
        reservation.refresh_from_db()
        if reservation.status == FlashReservation.Status.COMPLETED:
            return FlashPurchase(reservation=reservation,
                                 transaction=Transaction.objects.get(pk=reservation.purchase_transaction_id))
        if reservation.status == FlashReservation.Status.HELD and reservation.expires_at <= now:
            reservation.status = FlashReservation.Status.EXPIRED
            reservation.save(update_fields=["status", "updated_at"])
        if reservation.status != FlashReservation.Status.HELD:
            expired = reservation
        else:
            expired = None
            purchase = transaction_record_settled(
                kind=KIND_FLASH_PURCHASE, user_id=user_id, amount=reservation.price or promo.promo_price,
                currency=promo.product.currency, payload={"promo_id": promo.id, "reservation_id": reservation.id},
                settle=lambda txn: _flash_purchase_settle(txn, reservation=reservation, promo=promo,
                                                          account=locked.get(Account, "user_id", user_id), now=now))
    if expired is not None:
        raise HoldExpired(details={"reservation_id": expired.id, "expired_at": expired.expires_at.isoformat(),
                                   "status": expired.status})
    return FlashPurchase(reservation=reservation, transaction=purchase)


def _flash_purchase_settle(txn: Transaction, *, reservation: FlashReservation, promo: FlashPromo,
                           account: Account | None, now: datetime) -> Outcome:
    if promo.status == FlashPromo.Status.CANCELLED:
        return Outcome.failure(FlashFailure.PROMO_CANCELLED, "The promotion was withdrawn; nothing was charged.")
    if account is None:
        return Outcome.failure(OfferFailure.NO_ACCOUNT, "The customer has no account to charge.")
    if account.currency != txn.currency:
        return Outcome.failure(OfferFailure.CURRENCY_MISMATCH,
                               "The promotion is priced in another currency than the account.")
    if account.balance < txn.amount:
        return Outcome.failure(OfferFailure.INSUFFICIENT_BALANCE, "The account balance does not cover the promo price.")
    account_debit(account=account, amount=txn.amount, transaction_id=txn.id,
                  description=f"flash promo {promo.id}, reservation {reservation.id}")
    reservation.status, reservation.completed_at = FlashReservation.Status.COMPLETED, now
    reservation.purchase_transaction_id = txn.id
    reservation.save(update_fields=["status", "completed_at", "purchase_transaction_id", "updated_at"])
    return Outcome.success({"reservation_id": reservation.id, "promo_id": promo.id, "amount_charged": str(txn.amount),
                            "currency": txn.currency, "balance_after": str(account.balance)})


def flash_reservation_release(*, transaction_id, promo: FlashPromo, now: datetime) -> str:
    """Reverses a hold, with the promo locked: a unit still held is free again. A bought unit
    is not released here (reverse the purchase, which refunds it)."""
    reservation = FlashReservation.objects.get(transaction_id=transaction_id)
    if reservation.status == FlashReservation.Status.COMPLETED:
        return "purchased"
    if reservation.status == FlashReservation.Status.HELD:
        reservation.status = FlashReservation.Status.RELEASED
        reservation.save(update_fields=["status", "updated_at"])
        return "released"
    return reservation.status


def flash_purchase_refund(*, original: Transaction, reversal: Transaction, account: Account) -> FlashReservation:
    """Reverses a purchase, with the account and promo locked: the price comes back through
    the ledger and the unit is free again."""
    reservation = FlashReservation.objects.get(purchase_transaction_id=original.id)
    account_refund(account=account, amount=original.amount, transaction_id=reversal.id,
                   description=f"refund of flash purchase {original.id}")
    reservation.status = FlashReservation.Status.REFUNDED
    reservation.save(update_fields=["status", "updated_at"])
    return reservation


def flash_promo_holds_expire(*, promo_id: int, due: datetime) -> int:
    """The scheduled expiry of a batch's holds: every hold of the promo lapsed by now expires
    (those completed meanwhile are left alone). Idempotent. Returns how many expired."""
    now = timezone.now()
    if due > now:  # delivered early: try again when they lapse
        flash_holds_expiry_schedule(promo_id=promo_id, expires_at=due)
        return 0
    with db_transaction.atomic():
        promo = flash_promo_for_update().filter(pk=promo_id).first()
        return 0 if promo is None else flash_holds_lapse(promo=promo, now=now)


def flash_reservations_expire_lapsed(*, limit_promos: int = 500) -> int:
    """Sweeper (beat): the safety net for expiry messages that were lost."""
    now = timezone.now()
    promo_ids = list(FlashReservation.objects.filter(status=FlashReservation.Status.HELD, expires_at__lte=now)
                     .order_by("promo_id").values_list("promo_id", flat=True).distinct()[:limit_promos])
    expired = 0
    for promo_id in promo_ids:
        with db_transaction.atomic():
            promo = flash_promo_for_update().get(pk=promo_id)
            expired += flash_holds_lapse(promo=promo, now=now)
    return expired


# --- "promo started" fan-out ----------------------------------------------------------------------

def flash_promo_start_schedule(*, promo: FlashPromo) -> None:
    """On commit, a task at starts_at fans out the start notices. The beat entry
    `flash-promo-starts` is the safety net (lost message, start far beyond the broker's
    visibility timeout)."""
    from kernel.tasks import task_publish

    promo_id, starts_at = promo.id, promo.starts_at
    db_transaction.on_commit(lambda: task_publish("offers.flash.tasks.flash_promo_start_fanout_task",
                                                  args=[str(promo_id), starts_at.isoformat()], eta=starts_at),
                             robust=True)


def flash_promo_start_fanout(*, promo_id: int, expected_starts_at: datetime | None = None,
                             chunk_size: int | None = None) -> int:
    """Runs once per start: marks the promo notified under its lock, finds every eligible
    customer (segment + bounding box in SQL, haversine in Python) and enqueues chunks of
    notice writes on the notifications queue. A stale message (start moved, cancelled,
    already notified) is a no-op. Returns the number of customers targeted."""
    from celery import current_app

    chunk_size = chunk_size or settings.FLASH_FANOUT_CHUNK_SIZE
    now = timezone.now()
    with db_transaction.atomic():
        promo = flash_promo_for_update().select_related("product__store").filter(pk=promo_id).first()
        if (promo is None or promo.start_notified_at is not None or promo.starts_at > now
                or (expected_starts_at is not None and promo.starts_at != expected_starts_at)
                or not flash_promo_is_running(promo=promo, now=now)):
            return 0
        promo.start_notified_at = now
        promo.save(update_fields=["start_notified_at", "updated_at"])
        user_ids = flash_promo_eligible_customer_ids(promo=promo, now=now)
        chunks = [user_ids[i:i + chunk_size] for i in range(0, len(user_ids), chunk_size)]
        publish = partial(current_app.send_task, "offers.flash.tasks.flash_promo_start_fanout_chunk_task")
        for chunk in chunks:  # not robust: a chunk the broker refuses fails this task
            db_transaction.on_commit(partial(publish, args=[str(promo.id), chunk]))
    return len(user_ids)


def flash_promo_eligible_customer_ids(*, promo: FlashPromo, now: datetime) -> list[int]:
    store = promo.product.store
    box = bounding_box(store.latitude, store.longitude, promo.radius_km)
    segment_ids = set(promo.segments.values_list("pk", flat=True))
    candidates = CustomerProfile.objects.filter(segment_id__in=segment_ids, latitude__gte=box.min_lat,
                                                latitude__lte=box.max_lat, user__is_active=True)
    if box.min_lon is not None:
        candidates = candidates.filter(longitude__gte=box.min_lon, longitude__lte=box.max_lon)
    return sorted(profile.user_id for profile in candidates.only("user_id", "segment_id", "latitude", "longitude")
                  if flash_promo_ineligibility(promo=promo, profile=profile, now=now, segment_ids=segment_ids) is None)


def flash_promo_notices_write(*, promo_id: int, user_ids: list[int]) -> int:
    """One chunk of the fan-out. The unique (promo, user) constraint makes a redelivered
    chunk a no-op, so each customer is told exactly once."""
    before = FlashPromoNotice.objects.filter(promo_id=promo_id, user_id__in=user_ids).count()
    FlashPromoNotice.objects.bulk_create([FlashPromoNotice(promo_id=promo_id, user_id=u) for u in user_ids],
                                         ignore_conflicts=True)
    # Not robust: a receiver that fails fails the chunk task, which is retried (its writes are idempotent).
    flash_promo_started.send(sender=FlashPromo, promo_id=promo_id, user_ids=user_ids)
    return len(user_ids) - before


def flash_promos_start_due() -> int:
    """Beat: fan out every running promo whose start was not announced yet."""
    now = timezone.now()
    due = FlashPromo.objects.filter(status=FlashPromo.Status.ACTIVE, start_notified_at__isnull=True,
                                    starts_at__lte=now, ends_at__gt=now).values_list("pk", flat=True)
    return sum(1 for promo_id in due if flash_promo_start_fanout(promo_id=promo_id))
