"""Settlement of discount redemptions (and their reversal) under the campaign row lock."""
from decimal import Decimal

from activation.registry import (LOCK_RANK_CAMPAIGN, LockedRows, LockTarget, Outcome,
                                 reverser_register, settler_register)
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.rules import Evaluation
from offers.campaigns.services import (KIND_DISCOUNT_REDEMPTION, RedemptionGranted, RedemptionRequest,
                                       campaign_budget_restore, campaign_redemptions_settle)


def campaign_lock_target(campaign_id: int) -> LockTarget:
    return LockTarget(rank=LOCK_RANK_CAMPAIGN, model=Campaign, field="id", value=campaign_id)


def _refused(evaluation: Evaluation) -> Outcome:
    return Outcome.failure(evaluation.refusals[0], ", ".join(evaluation.refusals))


def _granted(campaign: Campaign, redemption: RedemptionGranted) -> Outcome:
    return Outcome.success({"campaign_id": campaign.id, "redemption_id": redemption.id,
                            "discount": str(redemption.amount), "currency": campaign.currency,
                            "target": campaign.target})


_CAMPAIGN_GONE = Outcome.failure("unknown_campaign", "The campaign no longer exists.")


class DiscountRedemptionSettler:
    """A redemption writes only campaign rows (budget, usage) and its own redemption row, so
    the campaign is the only row it locks."""

    kind = KIND_DISCOUNT_REDEMPTION

    def lock_targets(self, txn) -> list[LockTarget]:
        return [campaign_lock_target(txn.payload["campaign_id"])]

    def settle_batch(self, txns, locked: LockedRows) -> list[Outcome]:
        # The moment the customer asked decides the window and the day, not when a worker got to it.
        requests = [RedemptionRequest(transaction_id=txn.id, user_id=txn.user_id,
                                      campaign=locked.get(Campaign, "id", txn.payload["campaign_id"]),
                                      at=txn.created_at, cart_value=Decimal(txn.payload["cart_value"]),
                                      delivery_charge=Decimal(txn.payload["delivery_charge"]),
                                      order_reference=txn.payload.get("order_reference", ""))
                    for txn in txns]
        results = campaign_redemptions_settle(requests=requests, locked=locked)
        return [_CAMPAIGN_GONE if result is None
                else _refused(result) if isinstance(result, Evaluation)
                else _granted(request.campaign, result)
                for request, result in zip(requests, results, strict=True)]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        """One item (the engine's fallback when a batch raised): the same code as a batch."""
        return self.settle_batch([txn], locked)[0]


class DiscountRedemptionReverser:
    def lock_targets(self, txn) -> list[LockTarget]:
        return [campaign_lock_target(txn.payload["campaign_id"])]

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        campaign = locked.get(Campaign, "id", original.payload["campaign_id"])
        redemption = CampaignRedemption.objects.get(transaction=original)
        campaign_budget_restore(campaign=campaign, redemption=redemption)
        return Outcome.success({"reversed_transaction_id": str(original.id), "restored_budget": str(redemption.amount),
                                "campaign_id": campaign.id})


def settlers_register() -> None:
    settler_register(DiscountRedemptionSettler())
    reverser_register(kind=KIND_DISCOUNT_REDEMPTION, reverser=DiscountRedemptionReverser())
