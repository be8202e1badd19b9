"""Settlement of code claims (a customer's own, or a grant by a brand member): with the
customers' accounts and the pool locked (in the platform order), hand out each customer's
existing code or the next free one, a batch at a time (offers.codes.services.code_claims_settle);
one claim is a batch of one. A pool still generating hands out the codes that exist so far:
never one that does not."""
from django.utils import timezone

from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.codes.errors import CodeFailure
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import (KIND_CODE_CLAIM, CodeClaimDecision, CodeClaimRequest, code_claim_release,
                                   code_claims_settle)
from offers.locks import account_lock_target, code_pool_lock_target


def _claim_request(txn) -> CodeClaimRequest:
    return CodeClaimRequest(transaction_id=txn.id, user_id=txn.user_id, pool_id=txn.payload["pool_id"],
                            granted_by_id=txn.payload.get("granted_by"))


def _claim_outcome(decision: CodeClaimDecision) -> Outcome:
    if decision.refusal is not None:
        return Outcome.failure(*decision.refusal)
    return Outcome.success({"pool_id": decision.pool_id, "code": decision.code,
                            "claimed_at": decision.claimed_at.isoformat(), "already_claimed": decision.already_claimed})


class CodeClaimSettler:
    kind = KIND_CODE_CLAIM

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id), code_pool_lock_target(txn.payload["pool_id"])]

    def settle_batch(self, txns, locked: LockedRows) -> list[Outcome]:
        decisions = code_claims_settle(requests=[_claim_request(txn) for txn in txns], locked=locked,
                                       at=timezone.now())
        return [_claim_outcome(decision) for decision in decisions]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        """One item (the engine's fallback when a batch raised): the same code as a batch."""
        return self.settle_batch([txn], locked)[0]


class CodeClaimReverser:
    """The code goes back to the pool, free for anyone (staff only). A claim that only
    returned the code the customer already had consumed nothing and gives nothing back."""

    customer_may_reverse = False

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id), code_pool_lock_target(txn.payload["pool_id"])]

    def reverse(self, original, reversal, locked: LockedRows) -> Outcome:
        pool = locked.get(CodePool, "id", original.payload["pool_id"])
        if DiscountCode.objects.filter(pool=pool, claim_transaction_id=original.id, used_at__isnull=False).exists():
            return Outcome.failure(CodeFailure.USED, "The code was used at checkout: reverse that redemption first.")
        released = code_claim_release(pool=pool, transaction_id=original.id)
        return Outcome.success({"reversed_transaction_id": str(original.id), "pool_id": pool.id,
                                "code_released": bool(released)})


def settlers_register() -> None:
    """Registers the settlers of offers.codes with the engine (called from OffersConfig.ready)."""
    settler_register(CodeClaimSettler())
    reverser_register(kind=KIND_CODE_CLAIM, reverser=CodeClaimReverser())
