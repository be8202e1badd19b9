"""Settlers for offer transactions. They run inside the engine's database transaction with
the rows from `lock_targets` locked, re-check every rule, and return an Outcome."""
from decimal import Decimal

from accounts.models import Account
from accounts.services import account_debit
from activation.registry import LOCK_RANK_ACCOUNT, LockedRows, LockTarget, Outcome, settler_register
from offers.campaigns.models import Campaign
from offers.campaigns.rules import Refusal
from offers.campaigns.services import campaign_budget_consume, campaign_redemption_evaluate
from offers.campaigns.settlement import campaign_lock_target
from offers.failures import OfferFailure
from offers.models import Offer, Subscription
from offers.selectors import offers_for_settlement
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
    """Debits the offer price (less the campaign's discount when one is given) and creates or
    extends the subscription. With a campaign, the account and the campaign are locked and
    the debit and the budget consumption commit together or not at all."""

    kind = KIND_OFFER_ACTIVATION

    def lock_targets(self, txn) -> list[LockTarget]:
        targets = [account_lock_target(txn.user_id)]
        if txn.payload.get("campaign_id"):
            targets.append(campaign_lock_target(txn.payload["campaign_id"]))
        return targets

    def settle_batch(self, txns, locked: LockedRows) -> list[Outcome]:
        """The batch's offers are read once, in one statement (a burst of activations settled
        together read the same offer once per item before), then each item decided alone."""
        offers = offers_for_settlement(txn.payload["offer_id"] for txn in txns)
        return [self._settle(txn, locked, offers.get(int(txn.payload["offer_id"]))) for txn in txns]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        return self.settle_batch([txn], locked)[0]

    def _settle(self, txn, locked: LockedRows, offer: Offer | None) -> Outcome:
        if offer is None:  # deleted since the request was accepted
            return _failure(OfferFailure.OFFER_INACTIVE)
        account = locked.get(Account, "user_id", txn.user_id)
        if txn.currency != offer.currency:  # quoted before the offer changed currency: the amount means nothing now
            return _failure(OfferFailure.CURRENCY_MISMATCH)
        campaign, evaluation, charge = None, None, txn.amount
        if txn.payload.get("campaign_id"):
            campaign = locked.get(Campaign, "id", txn.payload["campaign_id"])
            if campaign is None:
                return Outcome.failure("unknown_campaign", "The campaign no longer exists.")
            if campaign.target != Campaign.Target.CART or campaign.currency != offer.currency:
                return Outcome.failure(Refusal.NOT_APPLICABLE_TO_OFFER,
                                       "Only a cart campaign in the offer's currency applies to an offer.")
            evaluation = campaign_redemption_evaluate(campaign=campaign, user_id=txn.user_id, at=txn.created_at,
                                                      cart_value=txn.amount, delivery_charge=Decimal("0"))
            if not evaluation.applies:
                return Outcome.failure(evaluation.refusals[0], ", ".join(evaluation.refusals))
            charge = txn.amount - evaluation.discount
        refusal = offer_charge_check(account=account, offer=offer, amount=charge)
        if refusal:
            return refusal
        if charge > 0:
            account_debit(account=account, amount=charge, transaction_id=txn.id, description=f"offer {offer.id}")
        result = {}
        if campaign is not None:
            redemption = campaign_budget_consume(campaign=campaign, user_id=txn.user_id, transaction_id=txn.id,
                                                 evaluation=evaluation, base_value=txn.amount,
                                                 order_reference=f"offer:{offer.id}", at=txn.created_at,
                                                 locked=locked)
            result = {"campaign_id": campaign.id, "discount": str(redemption.amount)}
        subscription = subscription_extend_or_create(user_id=txn.user_id, offer=offer, transaction_id=txn.id)
        return Outcome.success({"subscription_id": subscription.id, "offer_id": offer.id,
                                "amount_charged": str(charge), "expires_at": subscription.expires_at.isoformat(),
                                "balance_after": str(account.balance), **result})


class OfferRenewalSettler:
    kind = KIND_OFFER_RENEWAL

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", txn.user_id)
        subscription = Subscription.objects.select_related("offer").get(pk=txn.payload["subscription_id"])
        if subscription.status == Subscription.Status.CANCELLED:
            return _failure(OfferFailure.SUBSCRIPTION_NOT_RENEWABLE)
        if txn.currency != subscription.offer.currency:
            return _failure(OfferFailure.CURRENCY_MISMATCH)
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
