"""Settlers for offer transactions. They run inside the engine's database transaction with
the rows from `lock_targets` locked, re-check every rule, and return an Outcome."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from accounts.models import Account
from accounts.services import LedgerBatch, account_debit, account_refund
from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.campaigns.models import Campaign
from offers.campaigns.errors import CampaignFailure
from offers.campaigns.rules import Cart
from offers.campaigns.services import CampaignRedemptions, RedemptionRequest, campaign_redemptions_restore
from offers.errors import OfferFailure
from offers.locks import account_lock_target, campaign_lock_target
from offers.models import Offer, Subscription
from offers.selectors import offers_for_settlement
from offers.services import (KIND_OFFER_ACTIVATION, KIND_OFFER_RENEWAL, SubscriptionExtensions,
                             subscription_period_take_back, subscription_renew)


def _failure(reason: OfferFailure) -> Outcome:
    """The code, and its label (the customer's wording) as the transaction's message."""
    return Outcome.failure(reason.value, f"{reason.label[0].upper()}{reason.label[1:]}.")


def offer_charge_check(*, account: Account | None, offer: Offer, amount) -> Outcome | None:
    """The rules every paid offer transaction re-checks on the locked account."""
    if account is None:
        return _failure(OfferFailure.NO_ACCOUNT)
    if not offer.is_active:
        return _failure(OfferFailure.OFFER_INACTIVE)
    if account.currency != offer.currency:
        return _failure(OfferFailure.CURRENCY_MISMATCH)
    if account.balance < amount:
        return _failure(OfferFailure.INSUFFICIENT_BALANCE)
    return None


def _activation_campaign_request(txn, offer: Offer, locked: LockedRows) -> RedemptionRequest:
    """An activation with a campaign is a redemption in an order of its own, on the price."""
    campaign_id = int(txn.payload["campaign_id"])
    return RedemptionRequest(transaction_id=txn.id, user_id=txn.user_id, campaign_ids=(campaign_id,),
                             campaigns=(locked.get(Campaign, "id", campaign_id),), at=txn.created_at,
                             cart=Cart(cart_value=txn.amount, delivery_charge=Decimal("0"), currency=offer.currency),
                             order_reference=f"#activation:{txn.id}")


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
        """The batch's offers are read once, in one statement, and the campaign rules' inputs
        once (CampaignRedemptions); then each item is decided in order, the money moving on
        the locked accounts in memory, and what was decided is written: every debit in one
        statement (LedgerBatch), every subscription in one per round (SubscriptionExtensions)."""
        offers = offers_for_settlement(txn.payload["offer_id"] for txn in txns)
        with_campaign = [(txn, offers.get(int(txn.payload["offer_id"]))) for txn in txns
                         if txn.payload.get("campaign_id")]
        requests = {txn.id: _activation_campaign_request(txn, offer, locked)
                    for txn, offer in with_campaign if offer is not None}
        redemptions = CampaignRedemptions(list(requests.values())) if requests else None
        ledger, subscriptions = LedgerBatch(), SubscriptionExtensions()
        decided = [self._decide(txn, locked, offers.get(int(txn.payload["offer_id"])), redemptions,
                                requests.get(txn.id), ledger, subscriptions) for txn in txns]
        ledger.record()
        written = subscriptions.record()
        if redemptions is not None:
            redemptions.record(locked=locked)
        return [item if isinstance(item, Outcome) else item.outcome(written[item.transaction_id]) for item in decided]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        return self.settle_batch([txn], locked)[0]

    def _decide(self, txn, locked: LockedRows, offer: Offer | None, redemptions: CampaignRedemptions | None,
                request: RedemptionRequest | None, ledger: LedgerBatch,
                subscriptions: SubscriptionExtensions) -> "Outcome | _Activated":
        if offer is None:  # deleted since the request was accepted
            return _failure(OfferFailure.OFFER_INACTIVE)
        account = locked.get(Account, "user_id", txn.user_id)
        if txn.currency != offer.currency:  # quoted before the offer changed currency: the amount means nothing now
            return _failure(OfferFailure.CURRENCY_MISMATCH)
        decision, charge = None, txn.amount
        if request is not None:
            campaign = request.campaigns[0]
            if campaign is None:
                return Outcome.failure(CampaignFailure.UNKNOWN_CAMPAIGN, "The campaign no longer exists.")
            if campaign.target != Campaign.Target.CART:
                return Outcome.failure(CampaignFailure.NOT_APPLICABLE_TO_OFFER,
                                       "Only a cart campaign applies to an offer.")
            decision = redemptions.evaluate(request)
            if not decision.succeeded:
                refusals = decision.refusal.refusals
                return Outcome.failure(refusals[0], ", ".join(refusals))
            charge = txn.amount - decision.total
        refusal = offer_charge_check(account=account, offer=offer, amount=charge)
        if refusal:
            return refusal
        if charge > 0:
            ledger.debit(account=account, amount=charge, transaction_id=txn.id, description=f"offer {offer.id}")
        result = {}
        if decision is not None:
            redemptions.grant(decision)
            result = {"campaign_id": decision.granted[0].campaign.id, "discount": str(decision.total)}
        subscriptions.add(user_id=txn.user_id, offer=offer, transaction_id=txn.id)
        return _Activated(transaction_id=txn.id, offer_id=offer.id, charged=charge, balance_after=account.balance,
                          campaign_result=result)


@dataclass(frozen=True)
class _Activated:
    """A granted activation whose subscription is not written yet."""
    transaction_id: UUID
    offer_id: int
    charged: Decimal
    balance_after: Decimal
    campaign_result: dict

    def outcome(self, subscription: Subscription) -> Outcome:
        return Outcome.success({"subscription_id": subscription.id, "offer_id": self.offer_id,
                                "amount_charged": str(self.charged), "expires_at": subscription.expires_at.isoformat(),
                                "balance_after": str(self.balance_after), **self.campaign_result})


class OfferRenewalSettler:
    kind = KIND_OFFER_RENEWAL

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", txn.user_id)
        subscription = Subscription.objects.select_related("offer").get(pk=txn.payload["subscription_id"])
        if subscription.status == Subscription.Status.CANCELLED or (
                subscription.status != Subscription.Status.ACTIVE
                and Subscription.objects.filter(user_id=txn.user_id, offer_id=subscription.offer_id,
                                                status=Subscription.Status.ACTIVE).exists()):
            # cancelled, or expired while the offer was bought again (that one is the live one)
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


class OfferPurchaseReverser:
    """Reverses an activation or a renewal (staff, or the partner that made it): the amount
    charged comes back through the ledger, the period it bought comes off the subscription
    (cancelled if nothing is left), and a campaign's budget and use come back."""

    customer_may_reverse = False

    def lock_targets(self, txn) -> list[LockTarget]:
        targets = [account_lock_target(txn.user_id)]
        if txn.payload.get("campaign_id"):
            targets.append(campaign_lock_target(txn.payload["campaign_id"]))
        return targets

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        account = locked.get(Account, "user_id", original.user_id)
        if account is None:
            return _failure(OfferFailure.NO_ACCOUNT)
        refunded = Decimal(original.result.get("amount_charged", "0"))
        if refunded > 0:
            account_refund(account=account, amount=refunded, transaction_id=reversal.id,
                           description=f"reversal of {original.kind} {original.id}")
        subscription = subscription_period_take_back(
            subscription_id=original.result["subscription_id"],
            period_end=datetime.fromisoformat(original.result["expires_at"]))
        restored = campaign_redemptions_restore(transaction_id=original.id, locked=locked, keep_daily_use=False)
        return Outcome.success({"reversed_transaction_id": str(original.id), "refunded": str(refunded),
                                "currency": original.currency, "subscription_id": subscription.id,
                                "subscription_status": subscription.status,
                                "expires_at": subscription.expires_at.isoformat(),
                                "balance_after": str(account.balance),
                                "restored_budget": str(sum((r.amount for r in restored), Decimal("0")))})


def settlers_register() -> None:
    settler_register(OfferActivationSettler())
    settler_register(OfferRenewalSettler())
    reverser_register(kind=KIND_OFFER_ACTIVATION, reverser=OfferPurchaseReverser())
    reverser_register(kind=KIND_OFFER_RENEWAL, reverser=OfferPurchaseReverser())
