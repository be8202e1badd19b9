from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from offers.models import Offer, Subscription


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
