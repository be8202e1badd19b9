"""Settlement of code claims (a customer's own, or a grant by a brand member): with the
customer's account and the pool locked (in the platform order), hand out the customer's
existing code or the next free one. A pool still generating hands out the codes that exist
so far: never one that does not."""
from django.utils import timezone

from activation.registry import LockedRows, LockTarget, Outcome, reverser_register, settler_register
from offers.codes.errors import CodeFailure
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import KIND_CODE_CLAIM
from offers.errors import OfferFailure
from offers.locks import account_lock_target, code_pool_lock_target


def _code_result(code: DiscountCode, *, already_claimed: bool) -> dict:
    return {"pool_id": code.pool_id, "code": code.code, "claimed_at": code.claimed_at.isoformat(),
            "already_claimed": already_claimed}


class CodeClaimSettler:
    kind = KIND_CODE_CLAIM

    def lock_targets(self, txn) -> list[LockTarget]:
        return [account_lock_target(txn.user_id), code_pool_lock_target(txn.payload["pool_id"])]

    def settle(self, txn, locked: LockedRows) -> Outcome:
        pool = locked.get(CodePool, "id", txn.payload["pool_id"])
        if pool is None:
            return Outcome.failure(CodeFailure.POOL_NOT_ACTIVE, "The code pool no longer exists.")
        mine = DiscountCode.objects.filter(pool=pool, claimed_by_id=txn.user_id).first()
        if mine is not None:  # a second claim returns the code the customer already has
            return Outcome.success(_code_result(mine, already_claimed=True))
        now = timezone.now()
        if (pool.valid_from and now < pool.valid_from) or (pool.valid_until and now >= pool.valid_until):
            return Outcome.failure(CodeFailure.POOL_NOT_ACTIVE, "The code pool is outside its validity window.")
        if pool.claimed_count >= pool.total_count:
            return Outcome.failure(OfferFailure.SOLD_OUT, "Every code of this pool has been handed out.")
        code = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=True).order_by("id").first()
        if code is None and pool.status == CodePool.Status.GENERATING:
            return Outcome.failure(CodeFailure.POOL_NOT_READY, "The codes of this pool are still being generated.")
        if code is None:
            return Outcome.failure(OfferFailure.SOLD_OUT, "Every code of this pool has been handed out.")
        code.claimed_by_id, code.claimed_at, code.claim_transaction_id = txn.user_id, now, txn.id
        code.granted_by_id = txn.payload.get("granted_by")
        code.save(update_fields=["claimed_by", "claimed_at", "claim_transaction_id", "granted_by"])
        pool.claimed_count += 1
        pool.save(update_fields=["claimed_count"])
        return Outcome.success(_code_result(code, already_claimed=False))


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
        released = DiscountCode.objects.filter(pool=pool, claim_transaction_id=original.id).update(
            claimed_by=None, claimed_at=None, claim_transaction_id=None, granted_by=None)
        if released:
            pool.claimed_count -= released
            pool.save(update_fields=["claimed_count"])
        return Outcome.success({"reversed_transaction_id": str(original.id), "pool_id": pool.id,
                                "code_released": bool(released)})


def settlers_register() -> None:
    """Registers the settlers of offers.codes with the engine (called from OffersConfig.ready)."""
    settler_register(CodeClaimSettler())
    reverser_register(kind=KIND_CODE_CLAIM, reverser=CodeClaimReverser())
