"""Whether a discount code may be used at checkout, as a pure function: the same code answers
`codes/validate/` and settles a redemption that carries a code (with the customer's account
locked, which serialises their checkouts)."""
from datetime import datetime

from offers.codes.errors import CodeFailure


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
