"""The rules of discount codes as pure functions. Whether a code may be used at checkout: the
same code answers `codes/validate/` and settles a redemption that carries a code (with the
customer's account locked, which serialises their checkouts). Whether a pool hands out a code
to a claim: claim settlement, one claim or a batch (offers.codes.services.code_claims_settle)."""
from datetime import datetime

from offers.codes.errors import CodeFailure
from offers.errors import OfferFailure


CODE_REFUSAL_MESSAGES = {
    CodeFailure.UNKNOWN_CODE: "No such discount code.",
    CodeFailure.NOT_YOURS: "This code belongs to another customer.",
    CodeFailure.USED: "This code has already been used.",
    CodeFailure.EXPIRED: "This code has expired.",
    CodeFailure.NOT_YET_VALID: "This code is not valid yet.",
    CodeFailure.NO_DISCOUNT: "This code carries no discount.",
}


def discount_code_refusal(*, code, user_id: int, at: datetime, used_in_batch: bool = False) -> CodeFailure | None:
    """Why this customer may not use this code now (None: they may). A code is used by the
    customer who holds it (claimed or granted), once, within its pool's validity window, and
    only if its pool carries a discount."""
    if code is None:
        return CodeFailure.UNKNOWN_CODE
    if code.claimed_by_id != user_id:
        return CodeFailure.NOT_YOURS
    if code.used_at is not None or used_in_batch:
        return CodeFailure.USED
    pool = code.pool
    if pool.valid_from and at < pool.valid_from:
        return CodeFailure.NOT_YET_VALID
    if pool.valid_until and at >= pool.valid_until:
        return CodeFailure.EXPIRED
    if pool.campaign_id is None:
        return CodeFailure.NO_DISCOUNT
    return None


# Why a claim hands out no code: the refusal's failure_code and message (claim settlement).
CLAIM_POOL_GONE = (CodeFailure.POOL_NOT_ACTIVE, "The code pool no longer exists.")
CLAIM_OUTSIDE_WINDOW = (CodeFailure.POOL_NOT_ACTIVE, "The code pool is outside its validity window.")
CLAIM_SOLD_OUT = (OfferFailure.SOLD_OUT, "Every code of this pool has been handed out.")
CLAIM_NOT_READY = (CodeFailure.POOL_NOT_READY, "The codes of this pool are still being generated.")


def code_pool_claim_refusal(*, pool, at: datetime) -> tuple[str, str] | None:
    """Why `pool` hands out no code at `at` to a customer who holds none (None: it may, if a
    code is left): outside its validity window."""
    if (pool.valid_from and at < pool.valid_from) or (pool.valid_until and at >= pool.valid_until):
        return CLAIM_OUTSIDE_WINDOW
    return None


def code_pool_shortfall(*, pool, claimed_count: int) -> tuple[str, str]:
    """Why a claim got no code once the free codes ran out, `claimed_count` being handed out:
    every code is gone, or a pool still generating has handed out those that exist so far."""
    if claimed_count >= pool.total_count or pool.status != pool.Status.GENERATING:
        return CLAIM_SOLD_OUT
    return CLAIM_NOT_READY
