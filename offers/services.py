"""Writes of the offers catalogue and the requests that start offer transactions."""
from datetime import datetime, timedelta
from uuid import UUID

from django.utils import timezone

from activation.services import Accepted, transaction_accept
from offers.models import Offer, Subscription
from offers.sql import subscription_extend_returning, subscriptions_extend_or_create_returning

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
    extensions = SubscriptionExtensions()
    extensions.add(user_id=user_id, offer=offer, transaction_id=transaction_id)
    return extensions.record(now=now)[transaction_id]


class SubscriptionExtensions:
    """The subscriptions of a settlement batch's activations (accounts locked), each as
    subscription_extend_or_create makes it, written by one statement per round: a customer's
    second activation of the same offer in the batch goes in the next round, so it extends
    what the first wrote, as when they settle one after the other."""

    def __init__(self) -> None:
        self._activations: list[tuple[int, Offer, UUID]] = []

    def add(self, *, user_id: int, offer: Offer, transaction_id: UUID) -> None:
        self._activations.append((user_id, offer, transaction_id))

    def record(self, *, now: datetime | None = None) -> dict[UUID, Subscription]:
        """Writes them, in the order added; each transaction's subscription as it left it."""
        now = now or timezone.now()
        rounds: list[list[tuple[int, Offer, UUID]]] = []
        seen: dict[tuple[int, int], int] = {}
        for user_id, offer, transaction_id in self._activations:
            n = seen[user_id, offer.id] = seen.get((user_id, offer.id), -1) + 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append((user_id, offer, transaction_id))
        written: dict[UUID, Subscription] = {}
        for activations in rounds:
            stored = subscriptions_extend_or_create_returning(
                [(user_id, offer, offer_period(offer), transaction_id)
                 for user_id, offer, transaction_id in activations], now=now)
            for user_id, offer, transaction_id in activations:
                written[transaction_id] = stored[user_id, offer.id]  # one per (user, offer) a round
        self._activations = []
        return written


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
