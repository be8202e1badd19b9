"""Every write of stores, products, flash promos and reservations, and the eligibility rule.

Locks: a reservation is only created, completed or expired with its promo row locked
(`flash_promo_for_update`), so "units left = quantity - completed - active holds" is exact.
Settlement takes the account first (rank 10) and the promo second (rank 40); the
synchronous paths (complete, expire, sweeper) take only the promo, so the order holds.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from accounts.models import CustomerProfile, Segment
from activation.services import Accepted, transaction_accept
from config.errors import ApiError, ConflictError
from offers.flash.geo import bounding_box, haversine_km
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation, Product, Store
from offers.signals import flash_promo_started, flash_reservation_completed

logger = logging.getLogger(__name__)

KIND_FLASH_RESERVATION = "flash_reservation"

REASON_NOT_RUNNING = "not_running"
REASON_SEGMENT = "segment"
REASON_DISTANCE = "distance"


class HoldExpired(ApiError):
    status_code = 409
    code = "hold_expired"
    message = "The hold lapsed before it was completed; the unit is available to others again."


def flash_promo_for_update() -> QuerySet[FlashPromo]:
    return FlashPromo.objects.select_for_update().order_by("pk")


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


def flash_promo_units_left(*, promo: FlashPromo, now: datetime) -> int:
    """Exact only with the promo row locked; a listing may show a slightly stale number."""
    taken = FlashReservation.objects.filter(promo=promo).filter(
        status__in=[FlashReservation.Status.COMPLETED, FlashReservation.Status.HELD]).exclude(
        status=FlashReservation.Status.HELD, expires_at__lte=now).count()
    return max(promo.quantity - taken, 0)


# --- staff CRUD ---------------------------------------------------------------------------------

def store_create(**fields) -> Store:
    return Store.objects.create(**fields)


def store_update(*, store: Store, **fields) -> Store:
    for name, value in fields.items():
        setattr(store, name, value)
    store.save()
    return store


def product_create(**fields) -> Product:
    return Product.objects.create(**fields)


def product_update(*, product: Product, **fields) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    return product


def catalogue_row_delete(*, instance: Store | Product) -> None:
    try:
        instance.delete()
    except ProtectedError:
        raise ConflictError(f"This {instance._meta.verbose_name} is still in use.", code="in_use")


def flash_promo_create(*, segments: Iterable[Segment], **fields) -> FlashPromo:
    with db_transaction.atomic():
        promo = FlashPromo.objects.create(**fields)
        promo.segments.set(segments)
        flash_promo_start_schedule(promo=promo)
    return promo


def flash_promo_update(*, promo: FlashPromo, segments: Iterable[Segment] | None = None, **fields) -> FlashPromo:
    """A change of starts_at re-arms the start notification for the new time."""
    with db_transaction.atomic():
        promo = flash_promo_for_update().get(pk=promo.pk)
        start_moved = "starts_at" in fields and fields["starts_at"] != promo.starts_at
        for name, value in fields.items():
            setattr(promo, name, value)
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


def flash_reservation_hold(*, promo: FlashPromo, user_id: int, transaction_id, now: datetime) -> FlashReservation:
    """With the promo locked and every rule checked: hold one unit and schedule its expiry."""
    reservation = FlashReservation.objects.create(promo=promo, user_id=user_id, transaction_id=transaction_id,
                                                  expires_at=now + timedelta(seconds=promo.hold_seconds))
    db_transaction.on_commit(lambda: flash_reservation_expiry_schedule(reservation=reservation), robust=True)
    return reservation


def flash_holds_lapse(*, promo: FlashPromo, now: datetime) -> int:
    """With the promo locked: every hold past its expiry becomes EXPIRED (its unit is free)."""
    return FlashReservation.objects.filter(promo=promo, status=FlashReservation.Status.HELD,
                                           expires_at__lte=now).update(status=FlashReservation.Status.EXPIRED,
                                                                       updated_at=now)


def flash_reservation_expiry_schedule(*, reservation: FlashReservation) -> None:
    from offers.flash.tasks import flash_reservation_expire_task

    countdown = max((reservation.expires_at - timezone.now()).total_seconds(), 0) + 0.5
    try:
        flash_reservation_expire_task.apply_async(args=[str(reservation.id)], countdown=countdown)
    except Exception as exc:  # broker down: the sweeper expires it
        logger.warning("could not schedule expiry of hold %s: %r", reservation.id, exc)


def flash_reservation_complete(*, user_id: int, reservation_id: int) -> FlashReservation:
    """Synchronous: the unit is already held, so completing only consumes it under the
    promo lock (no contention for stock, nothing to queue). Completing twice returns the
    completed reservation; after the expiry it is refused with 409 hold_expired."""
    now = timezone.now()
    expired = False
    with db_transaction.atomic():
        reservation = FlashReservation.objects.filter(pk=reservation_id, user_id=user_id).first()
        if reservation is None:
            from rest_framework.exceptions import NotFound

            raise NotFound("Unknown reservation.")
        flash_promo_for_update().get(pk=reservation.promo_id)
        reservation.refresh_from_db()
        if reservation.status == FlashReservation.Status.HELD and reservation.expires_at <= now:
            reservation.status = FlashReservation.Status.EXPIRED
            reservation.save(update_fields=["status", "updated_at"])
        if reservation.status == FlashReservation.Status.EXPIRED:
            expired = True
        elif reservation.status == FlashReservation.Status.HELD:
            reservation.status = FlashReservation.Status.COMPLETED
            reservation.completed_at = now
            reservation.save(update_fields=["status", "completed_at", "updated_at"])
            completed_id = reservation.id
            db_transaction.on_commit(lambda: flash_reservation_completed.send_robust(
                sender=FlashReservation, reservation_id=completed_id), robust=True)
    if expired:
        raise HoldExpired(details={"reservation_id": reservation.id, "expired_at": reservation.expires_at.isoformat()})
    return reservation


def flash_reservation_expire(*, reservation_id: int) -> bool:
    """The scheduled expiry of one hold. Idempotent; a hold completed meanwhile is left alone."""
    reservation = FlashReservation.objects.filter(pk=reservation_id).only("promo_id", "expires_at").first()
    if reservation is None:
        return False
    now = timezone.now()
    if reservation.expires_at > now:  # delivered early: try again at the expiry
        flash_reservation_expiry_schedule(reservation=reservation)
        return False
    with db_transaction.atomic():
        flash_promo_for_update().get(pk=reservation.promo_id)
        return bool(FlashReservation.objects.filter(pk=reservation_id, status=FlashReservation.Status.HELD,
                                                    expires_at__lte=now)
                    .update(status=FlashReservation.Status.EXPIRED, updated_at=now))


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
    from offers.flash.tasks import flash_promo_start_fanout_task

    promo_id, starts_at = promo.id, promo.starts_at

    def schedule():
        flash_promo_start_fanout_task.apply_async(args=[str(promo_id), starts_at.isoformat()], eta=starts_at)

    db_transaction.on_commit(schedule, robust=True)


def flash_promo_start_fanout(*, promo_id: int, expected_starts_at: datetime | None = None,
                             chunk_size: int | None = None) -> int:
    """Runs once per start: marks the promo notified under its lock, finds every eligible
    customer (segment + bounding box in SQL, haversine in Python) and enqueues chunks of
    notice writes on the notifications queue. A stale message (start moved, cancelled,
    already notified) is a no-op. Returns the number of customers targeted."""
    from offers.flash.tasks import flash_promo_start_fanout_chunk_task

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
        for chunk in chunks:
            flash_promo_start_fanout_chunk_task.delay_on_commit(str(promo.id), chunk)
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
