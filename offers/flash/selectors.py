"""Reads of stores, products, flash promos and reservations."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Max, Q, QuerySet

from accounts.models import CustomerProfile
from offers.flash.geo import bounding_box
from offers.flash.models import FlashPromo, FlashReservation, Product, Store
from offers.flash.services import flash_promo_ineligibility


def store_list() -> QuerySet[Store]:
    return Store.objects.order_by("id")


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("store").order_by("id")


def flash_promo_list(*, now: datetime) -> QuerySet[FlashPromo]:
    """Every promo, annotated with `units_left` (quantity - completed - unexpired holds)."""
    taken = Count("reservations", filter=Q(reservations__status=FlashReservation.Status.COMPLETED)
                  | Q(reservations__status=FlashReservation.Status.HELD, reservations__expires_at__gt=now))
    return (FlashPromo.objects.select_related("product__store").prefetch_related("segments")
            .annotate(units_left=F("quantity") - taken).order_by("starts_at", "id"))


def flash_promo_get(*, promo_id: int) -> FlashPromo | None:
    return FlashPromo.objects.filter(pk=promo_id).first()


def flash_promo_list_running(*, now: datetime) -> QuerySet[FlashPromo]:
    return flash_promo_list(now=now).filter(status=FlashPromo.Status.ACTIVE, starts_at__lte=now, ends_at__gt=now)


def flash_promo_list_eligible(*, user_id: int, now: datetime) -> list[FlashPromo]:
    """Running promos with units left, for my segment, whose store is within their radius of
    me: a bounding box (built for the largest radius running) prefilters stores in SQL,
    then the exact great-circle distance decides in Python."""
    profile = CustomerProfile.objects.filter(user_id=user_id).first()
    if profile is None or profile.segment_id is None or profile.latitude is None or profile.longitude is None:
        return []
    mine = FlashPromo.segments.through.objects.filter(segment_id=profile.segment_id).values("flashpromo_id")
    running = flash_promo_list_running(now=now).filter(pk__in=mine, units_left__gt=0)
    max_radius = running.aggregate(r=Max("radius_km"))["r"]
    if max_radius is None:
        return []
    box = bounding_box(profile.latitude, profile.longitude, max_radius)
    candidates = running.filter(product__store__latitude__gte=box.min_lat, product__store__latitude__lte=box.max_lat)
    if box.min_lon is not None:
        candidates = candidates.filter(product__store__longitude__gte=box.min_lon,
                                       product__store__longitude__lte=box.max_lon)
    segment_ids = {profile.segment_id}
    return [promo for promo in candidates
            if flash_promo_ineligibility(promo=promo, profile=profile, now=now, segment_ids=segment_ids) is None]


def flash_reservation_list_for_user(*, user_id: int) -> QuerySet[FlashReservation]:
    return FlashReservation.objects.filter(user_id=user_id).select_related("promo__product").order_by("-id")
