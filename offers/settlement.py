"""Settlers for offer transactions. They run inside the engine's database transaction with
the rows from `lock_targets` locked, re-check every rule, and return an Outcome."""
from accounts.models import Account
from accounts.services import account_debit
from activation.registry import LOCK_RANK_ACCOUNT, LockedRows, LockTarget, Outcome, settler_register
from offers.failures import OfferFailure
from offers.models import Offer, Subscription
from offers.services import (KIND_OFFER_ACTIVATION, KIND_OFFER_RENEWAL, subscription_extend_or_create,
                             subscription_renew)


def _failure(reason: OfferFailure) -> Outcome:
    return Outcome.failure(reason.value, str(reason.label))


def account_lock_target(user_id: int) -> LockTarget:
    return LockTarget(rank=LOCK_RANK_ACCOUNT, model=Account, field="user_id", value=user_id)


def offer_charge_check(*, account: Account, offer: Offer, amount) -> Outcome | None:
    """The rules every paid offer transaction re-checks on the locked account."""
    if not offer.is_active:
        return _failure(OfferFailure.OFFER_INACTIVE)
    if account.currency != offer.currency:
        return _failure(OfferFailure.CURRENCY_MISMATCH)
    if account.balance < amount:
        return _failure(OfferFailure.INSUFFICIENT_BALANCE)
    return None


class OfferActivationSettler:
    kind = KIND_OFFER_ACTIVATION

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", txn.user_id)
        offer = Offer.objects.get(pk=txn.payload["offer_id"])
        refusal = offer_charge_check(account=account, offer=offer, amount=txn.amount)
        if refusal:
            return refusal
        account_debit(account=account, amount=txn.amount, transaction_id=txn.id, description=f"offer {offer.id}")
        subscription = subscription_extend_or_create(user_id=txn.user_id, offer=offer, transaction_id=txn.id)
        return Outcome.success({"subscription_id": subscription.id, "offer_id": offer.id,
                                "amount_charged": str(txn.amount), "expires_at": subscription.expires_at.isoformat(),
                                "balance_after": str(account.balance)})


class OfferRenewalSettler:
    kind = KIND_OFFER_RENEWAL

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", txn.user_id)
        subscription = Subscription.objects.select_related("offer").get(pk=txn.payload["subscription_id"])
        if subscription.status == Subscription.Status.CANCELLED:
            return _failure(OfferFailure.SUBSCRIPTION_NOT_RENEWABLE)
        refusal = offer_charge_check(account=account, offer=subscription.offer, amount=txn.amount)
        if refusal:
            return refusal
        account_debit(account=account, amount=txn.amount, transaction_id=txn.id,
                      description=f"renewal of subscription {subscription.id}")
        subscription_renew(subscription=subscription)
        return Outcome.success({"subscription_id": subscription.id, "offer_id": subscription.offer_id,
                                "amount_charged": str(txn.amount), "expires_at": subscription.expires_at.isoformat(),
                                "balance_after": str(account.balance)})


def settlers_register() -> None:
    settler_register(OfferActivationSettler())
    settler_register(OfferRenewalSettler())
