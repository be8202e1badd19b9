"""Whether a discount code may be used at checkout, as a pure function: the same code answers
`codes/validate/` and settles a redemption that carries a code (with the customer's account
locked, which serialises their checkouts)."""
from datetime import datetime


class CodeRefusal:
    UNKNOWN_CODE = "unknown_code"
    NOT_YOURS = "code_not_yours"
    USED = "code_used"
    EXPIRED = "code_expired"
    NOT_YET_VALID = "code_not_yet_valid"
    NO_DISCOUNT = "code_without_discount"


CODE_REFUSAL_MESSAGES = {
    CodeRefusal.UNKNOWN_CODE: "No such discount code.",
    CodeRefusal.NOT_YOURS: "This code belongs to another customer.",
    CodeRefusal.USED: "This code has already been used.",
    CodeRefusal.EXPIRED: "This code has expired.",
    CodeRefusal.NOT_YET_VALID: "This code is not valid yet.",
    CodeRefusal.NO_DISCOUNT: "This code carries no discount.",
}


def discount_code_refusal(*, code, user_id: int, at: datetime, used_in_batch: bool = False) -> str | None:
    """Why this customer may not use this code now (None: they may). A code is used by the
    customer who holds it (claimed or granted), once, within its pool's validity window, and
    only if its pool carries a discount."""
    if code is None:
        return CodeRefusal.UNKNOWN_CODE
    if code.claimed_by_id != user_id:
        return CodeRefusal.NOT_YOURS
    if code.used_at is not None or used_in_batch:
        return CodeRefusal.USED
    pool = code.pool
    if pool.valid_from and at < pool.valid_from:
        return CodeRefusal.NOT_YET_VALID
    if pool.valid_until and at >= pool.valid_until:
        return CodeRefusal.EXPIRED
    if pool.campaign_id is None:
        return CodeRefusal.NO_DISCOUNT
    return None
