"""What each domain event tells the customer: the receivers of the engine's and offers'
signals and the beat jobs over subscriptions. The facts go to the templates."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from activation.models import Transaction
from notifications.models import Notification
from notifications.services import Event, notifications_send
from offers.models import Offer, Subscription
from offers.results import (CodeClaimResult, DiscountRedemptionResult, FlashPurchaseResult, FlashReservationResult,
                            OfferActivationResult, OfferRenewalResult, TransactionResult, transaction_result)

Kind = Notification.Kind

# (result type, succeeded) → notification kind. Other outcomes are shown by their own APIs.
TRANSACTION_KINDS = {
    (OfferActivationResult, True): Kind.ACTIVATION_SUCCEEDED,
    (OfferActivationResult, False): Kind.ACTIVATION_FAILED,
    (OfferRenewalResult, True): Kind.RENEWAL_SUCCEEDED,
    (OfferRenewalResult, False): Kind.RENEWAL_FAILED,
    (DiscountRedemptionResult, True): Kind.REDEMPTION_SUCCEEDED,
    (CodeClaimResult, True): Kind.CODE_CLAIMED,
    (FlashReservationResult, True): Kind.FLASH_RESERVATION_HELD,
    (FlashPurchaseResult, True): Kind.FLASH_RESERVATION_COMPLETED,
}

REMINDER_DAYS = (7, 3, 1)


def _money(amount, currency: str) -> str:
    return f"{amount} {currency}".strip() if amount not in (None, "") else ""


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _transaction_facts(result: TransactionResult, *, settled_at: datetime | None) -> dict:
    status = Transaction.Status.SUCCEEDED if result.succeeded else Transaction.Status.FAILED
    facts = {"transaction_id": str(result.transaction_id), "status": status.value,
             "failure_code": result.failure_code, "amount": _money(result.amount, result.currency), "expires_at": ""}
    if isinstance(result, (OfferActivationResult, OfferRenewalResult)):
        offer = Offer.objects.filter(pk=result.offer_id).first()
        facts.update(offer=offer.name if offer else f"offer {result.offer_id}", expires_at=_iso(result.expires_at))
    if isinstance(result, OfferActivationResult) and result.partner_reference:
        facts["partner_reference"] = result.partner_reference
    if isinstance(result, DiscountRedemptionResult):
        from offers.campaigns.models import Campaign

        campaign = Campaign.objects.filter(pk=result.campaign_id).first()
        facts.update(campaign=campaign.name if campaign else "", discount=_money(result.discount, result.currency))
    if isinstance(result, CodeClaimResult):
        from offers.codes.models import CodePool

        pool = CodePool.objects.filter(pk=result.pool_id).first()
        facts.update(code=result.code, pool=pool.name if pool else "")
    if isinstance(result, FlashReservationResult):
        facts.update(_promo_facts(result.promo_id), reservation_id=result.reservation_id,
                     expires_at=_iso(result.expires_at))
    if isinstance(result, FlashPurchaseResult):
        facts.update(_promo_facts(result.promo_id), reservation_id=result.reservation_id,
                     completed_at=_iso(settled_at))
    return facts


def _promo_facts(promo_id) -> dict:
    from offers.flash.models import FlashPromo

    promo = FlashPromo.objects.select_related("product__store").filter(pk=promo_id).first()
    if promo is None:
        return {}
    return {"product": promo.product.name, "store": promo.product.store.name,
            "promo_price": _money(promo.promo_price, promo.product.currency), "ends_at": promo.ends_at.isoformat()}


def transactions_notify(*, transactions: list[Transaction]) -> int:
    """Tells each customer how their transaction finished, once (a dedupe key per
    transaction): the settlement outbox's receiver, inside its database transaction. Each
    instance carries the status it finished with."""
    events: dict[str, list[Event]] = {}
    for txn in transactions:
        result = transaction_result(txn)
        kind = TRANSACTION_KINDS.get((type(result), result.succeeded)) if result is not None else None
        if kind is not None:
            events.setdefault(kind, []).append(Event(user_id=result.user_id, key=f"txn:{result.transaction_id}",
                                                     facts=_transaction_facts(result, settled_at=txn.settled_at),
                                                     request_id=txn.request_id))
    return sum(notifications_send(kind=kind, events=kind_events) for kind, kind_events in events.items())


def flash_promo_started_notify(*, promo_id: int, user_ids: list[int]) -> int:
    """One chunk of a promo start fan-out (already on the notifications queue)."""
    facts = {**_promo_facts(promo_id), "promo_id": promo_id}
    return notifications_send(kind=Kind.FLASH_PROMO_STARTED,
                              events=[Event(user_id=u, key=f"flash-promo:{promo_id}", facts=facts) for u in user_ids])


def _subscription_facts(subscription: Subscription, **extra) -> dict:
    return {"subscription_id": subscription.id, "offer": subscription.offer.name,
            "expires_at": subscription.expires_at.isoformat(), "auto_renew": subscription.auto_renew,
            "price": _money(subscription.offer.price, subscription.offer.currency), **extra}


def subscription_reminders_send(*, now: datetime | None = None) -> int:
    """Beat: a reminder 7, 3 and 1 days before the end, each once per subscription period.
    A subscription is in the 7-day bucket while it ends in (3, 7] days, and so on, so a
    missed beat run still sends the reminder later and a late subscription skips none it can still get."""
    from offers.subscriptions import subscription_list_expiring_between

    now = now or timezone.now()
    created = 0
    bounds = list(REMINDER_DAYS) + [0]
    for days, next_days in zip(bounds, bounds[1:]):
        due = subscription_list_expiring_between(start=now + timedelta(days=next_days), end=now + timedelta(days=days))
        events = [Event(user_id=s.user_id, key=f"subscription:{s.id}:{s.expires_at.date()}:expiring:{days}d",
                        facts=_subscription_facts(s, days=days)) for s in due]
        created += notifications_send(kind=Kind.SUBSCRIPTION_EXPIRING, events=events)
    return created


def subscriptions_expired_notify(*, now: datetime | None = None, lookback_days: int = 2) -> int:
    """Beat: tells the customers whose subscriptions were marked expired (recently), once."""
    from offers.subscriptions import subscription_list_expired_since

    now = now or timezone.now()
    expired = subscription_list_expired_since(since=now - timedelta(days=lookback_days))
    events = [Event(user_id=s.user_id, key=f"subscription:{s.id}:{s.expires_at.date()}:expired",
                    facts=_subscription_facts(s)) for s in expired]
    return notifications_send(kind=Kind.SUBSCRIPTION_EXPIRED, events=events)
