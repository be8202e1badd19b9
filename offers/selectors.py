import time
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from offers.models import Offer, Subscription
from offers.sql import offers_read


def offer_list(*, category: str | None = None, include_inactive: bool = False) -> QuerySet[Offer]:
    qs = Offer.objects.all() if include_inactive else Offer.objects.filter(is_active=True)
    return qs.filter(category=category) if category else qs


def subscription_list_for_user(*, user_id: int, status: str | None = None) -> QuerySet[Subscription]:
    qs = Subscription.objects.filter(user_id=user_id).select_related("offer").order_by("-expires_at")
    return qs.filter(status=status) if status else qs


def subscription_list_expiring(*, user_id: int, days: int) -> QuerySet[Subscription]:
    now = timezone.now()
    return (Subscription.objects.filter(user_id=user_id, status=Subscription.Status.ACTIVE,
                                        expires_at__gte=now, expires_at__lte=now + timedelta(days=days))
            .select_related("offer").order_by("expires_at"))


# Offers quoted by the accept paths, per process. An activation request needs the offer's
# price and currency to write its PENDING row; the catalogue changes rarely and every
# activation hits the same few offers, so a found offer is kept for OFFER_CACHE_SECONDS.
# A save or delete in this process drops it (offers.apps: at once and after commit); other
# processes see a change within that many seconds. Settlement never uses this: it re-reads
# the offer and re-checks it (an offer deactivated meanwhile fails as offer_inactive, one
# whose currency changed as currency_mismatch).
_offers_quoted: dict[int, tuple[float, Offer]] = {}


def offer_quote(offer_id: int) -> Offer | None:
    ttl = settings.OFFER_CACHE_SECONDS
    hit = _offers_quoted.get(offer_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    offer = Offer.objects.filter(pk=offer_id).first()
    if offer is not None and ttl > 0:
        _offers_quoted[offer_id] = (now + ttl, offer)
    return offer


def offer_quote_forget(offer_id: int) -> None:
    _offers_quoted.pop(offer_id, None)


def offers_for_settlement(offer_ids) -> dict[int, Offer]:
    """The offers as they are now (no cache), for settlement to re-check, in one statement for
    a whole batch: those that exist, by id."""
    ids = sorted({int(offer_id) for offer_id in offer_ids})
    return {offer.id: offer for offer in offers_read(ids)}
