"""Writes of the offers catalogue and the requests that start offer transactions."""
from datetime import datetime, timedelta
from uuid import UUID

from django.utils import timezone

from activation.services import Accepted, transaction_accept
from offers.models import Offer, Subscription
from offers.sql import subscription_extend_or_create_returning, subscription_extend_returning

KIND_OFFER_ACTIVATION = "offer_activation"
KIND_OFFER_RENEWAL = "offer_renewal"


def offer_activation_request(*, user_id: int, offer: Offer, idempotency_key: str | None,
                             campaign_id: int | None = None, idempotency_scope: str | None = None,
                             context: dict | None = None, idempotency_retained: bool = False) -> Accepted:
    """Accepts an activation at the price quoted now (less a campaign's discount, computed
    at settlement); settlement re-checks everything. `context` (e.g. the partner and its
    reference) is recorded in the payload; it does not change how the activation settles."""
    payload = {"offer_id": offer.id, **({"campaign_id": campaign_id} if campaign_id else {}),
               **({"context": context} if context else {})}
    return transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user_id, payload=payload,
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key,
                              idempotency_scope=idempotency_scope, idempotency_retained=idempotency_retained)


def offer_renewal_request(*, user_id: int, subscription: Subscription, idempotency_key: str | None) -> Accepted:
    offer = subscription.offer
    return transaction_accept(kind=KIND_OFFER_RENEWAL, user_id=user_id,
                              payload={"subscription_id": subscription.id, "offer_id": offer.id},
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key)


def offer_period(offer: Offer) -> timedelta:
    """What one activation or renewal of `offer` adds to a subscription (offers.sql holds how)."""
    return timedelta(days=offer.validity_days)


def subscription_extend_or_create(*, user_id: int, offer: Offer, transaction_id: UUID,
                                  now: datetime | None = None) -> Subscription:
    """Called by settlement with the account locked. Activating an offer the customer
    already has adds its validity to the end of the current period. One statement: the
    one-active-subscription-per-offer constraint decides between insert and extend."""
    return subscription_extend_or_create_returning(user_id=user_id, offer=offer, period=offer_period(offer),
                                                   transaction_id=transaction_id, now=now or timezone.now())


def subscription_renew(*, subscription: Subscription, now: datetime | None = None) -> Subscription:
    """With the owner's account locked: one more period, by the same rule as an activation."""
    now = now or timezone.now()
    subscription.expires_at = subscription_extend_returning(subscription_id=subscription.id,
                                                            period=offer_period(subscription.offer), now=now)
    subscription.status, subscription.updated_at = Subscription.Status.ACTIVE, now
    return subscription


def subscription_period_take_back(*, subscription_id: int, period_end: datetime,
                                  now: datetime | None = None) -> Subscription:
    """With the owner's account locked (a reversal): what is left of the period one
    transaction bought (it ended at `period_end`, at most one offer period) comes off the end,
    so later periods move up and a period already over takes nothing from a later renewal; a
    subscription left with nothing to run is cancelled."""
    now = now or timezone.now()
    subscription = Subscription.objects.select_related("offer").get(pk=subscription_id)
    subscription.expires_at -= min(max(period_end - now, timedelta(0)), offer_period(subscription.offer))
    if subscription.expires_at <= now and subscription.status == Subscription.Status.ACTIVE:
        subscription.status = Subscription.Status.CANCELLED
    subscription.save(update_fields=["expires_at", "status", "updated_at"])
    return subscription
