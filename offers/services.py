"""Writes of the offers catalogue and the requests that start offer transactions."""
from datetime import datetime, timedelta
from uuid import UUID

from django.utils import timezone

from activation.services import Accepted, transaction_accept
from offers.models import Offer, Subscription

KIND_OFFER_ACTIVATION = "offer_activation"
KIND_OFFER_RENEWAL = "offer_renewal"


def offer_activation_request(*, user_id: int, offer: Offer, idempotency_key: str | None,
                             campaign_id: int | None = None, idempotency_scope: str | None = None,
                             context: dict | None = None) -> Accepted:
    """Accepts an activation at the price quoted now (less a campaign's discount, computed
    at settlement); settlement re-checks everything. `context` (e.g. the partner and its
    reference) is recorded in the payload; it does not change how the activation settles."""
    payload = {"offer_id": offer.id, **({"campaign_id": campaign_id} if campaign_id else {}),
               **({"context": context} if context else {})}
    return transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user_id, payload=payload,
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key,
                              idempotency_scope=idempotency_scope)


def offer_renewal_request(*, user_id: int, subscription: Subscription, idempotency_key: str | None) -> Accepted:
    offer = subscription.offer
    return transaction_accept(kind=KIND_OFFER_RENEWAL, user_id=user_id,
                              payload={"subscription_id": subscription.id, "offer_id": offer.id},
                              amount=offer.price, currency=offer.currency, idempotency_key=idempotency_key)


def subscription_extend_or_create(*, user_id: int, offer: Offer, transaction_id: UUID,
                                  now: datetime | None = None) -> Subscription:
    """Called by settlement with the account locked. Activating an offer the customer
    already has adds its validity to the end of the current period."""
    now = now or timezone.now()
    period = timedelta(days=offer.validity_days)
    current = Subscription.objects.filter(user_id=user_id, offer=offer, status=Subscription.Status.ACTIVE).first()
    if current is not None:
        current.expires_at = max(current.expires_at, now) + period
        current.save(update_fields=["expires_at", "updated_at"])
        return current
    return Subscription.objects.create(user_id=user_id, offer=offer, started_at=now, expires_at=now + period,
                                       created_by_transaction_id=transaction_id)


def subscription_renew(*, subscription: Subscription, now: datetime | None = None) -> Subscription:
    now = now or timezone.now()
    subscription.expires_at = max(subscription.expires_at, now) + timedelta(days=subscription.offer.validity_days)
    subscription.status = Subscription.Status.ACTIVE
    subscription.save(update_fields=["expires_at", "status", "updated_at"])
    return subscription
