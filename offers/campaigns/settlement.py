"""Settlement of discount redemptions (and their reversal): the customer's account (which
serialises their orders) and every campaign of the request locked, in the platform order."""
from decimal import Decimal

from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.campaigns.errors import CampaignFailure
from offers.campaigns.models import Campaign
from offers.campaigns.rules import Cart
from offers.codes.rules import CODE_REFUSAL_MESSAGES
from offers.campaigns.services import (KIND_DISCOUNT_REDEMPTION, RedemptionDecision, RedemptionRequest,
                                       campaign_redemptions_restore, campaign_redemptions_settle)
from offers.locks import account_lock_target, campaign_lock_target


def redemption_campaign_ids(payload: dict) -> list[int]:
    """The campaigns a redemption asked for, in order (a single one, or a combination)."""
    return [int(c) for c in payload.get("campaign_ids") or [payload["campaign_id"]]]


def redemption_request(txn, locked: LockedRows) -> RedemptionRequest:
    # The moment the customer asked decides the window and the day, not when a worker got to it.
    payload = txn.payload
    campaign_ids = tuple(redemption_campaign_ids(payload))
    return RedemptionRequest(
        transaction_id=txn.id, user_id=txn.user_id, campaign_ids=campaign_ids,
        campaigns=tuple(locked.get(Campaign, "id", c) for c in campaign_ids), at=txn.created_at,
        cart=Cart(cart_value=Decimal(payload["cart_value"]), delivery_charge=Decimal(payload["delivery_charge"]),
                  currency=payload.get("currency") or txn.currency),
        order_reference=payload.get("order_reference") or f"#txn:{txn.id}", code_id=payload.get("code_id"))


def redemption_outcome(request: RedemptionRequest, decision: RedemptionDecision) -> Outcome:
    if decision.code_refusal is not None:
        return Outcome.failure(decision.code_refusal, CODE_REFUSAL_MESSAGES[decision.code_refusal],
                               {"code_id": decision.code_id, "reasons": [decision.code_refusal]})
    if decision.missing_campaign_id is not None:
        return Outcome.failure(CampaignFailure.UNKNOWN_CAMPAIGN, "The campaign no longer exists.",
                               {"campaign_id": decision.missing_campaign_id})
    if decision.refusal is not None:
        refusals = decision.refusal.refusals
        return Outcome.failure(refusals[0], ", ".join(refusals),
                               {"campaign_id": decision.refusal.campaign_id, "reasons": list(refusals)})
    first = decision.granted[0]
    return Outcome.success({
        "campaign_id": first.campaign.id, "redemption_id": first.id, "target": first.campaign.target,
        "discount": str(decision.total), "currency": request.cart.currency,
        "order_reference": request.order_reference, **({"code_id": request.code_id} if request.code_id else {}),
        "redemptions": [{"campaign_id": g.campaign.id, "redemption_id": g.id, "target": g.campaign.target,
                         "discount": str(g.amount)} for g in decision.granted]})


class DiscountRedemptionSettler:
    kind = KIND_DISCOUNT_REDEMPTION

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)] + [campaign_lock_target(c)
                                                     for c in redemption_campaign_ids(txn.payload)]

    def settle_batch(self, txns, locked: LockedRows) -> list[Outcome]:
        requests = [redemption_request(txn, locked) for txn in txns]
        decisions = campaign_redemptions_settle(requests=requests, locked=locked)
        return [redemption_outcome(r, d) for r, d in zip(requests, decisions, strict=True)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        """One item (the engine's fallback when a batch raised): the same code as a batch."""
        return self.settle_batch([txn], locked)[0]


class DiscountRedemptionReverser:
    """Customers may reverse their own redemptions (an abandoned order); their reversal gives
    back budget and uses but still counts towards that day's per-customer limit."""

    customer_may_reverse = True

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id)] + [campaign_lock_target(c)
                                                     for c in redemption_campaign_ids(txn.payload)]

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        restored = campaign_redemptions_restore(transaction_id=original.id, locked=locked,
                                                keep_daily_use=bool(reversal.payload.get("by_customer")))
        return Outcome.success({"reversed_transaction_id": str(original.id),
                                "restored_budget": str(sum((r.amount for r in restored), Decimal("0"))),
                                "campaign_id": restored[0].campaign_id if restored else None,
                                "campaign_ids": [r.campaign_id for r in restored]})


def settlers_register() -> None:
    settler_register(DiscountRedemptionSettler())
    reverser_register(kind=KIND_DISCOUNT_REDEMPTION, reverser=DiscountRedemptionReverser())
