"""Every failure code a customer can be told about, in plain words (the templates show
these instead of the machine-readable code)."""
FAILURE_REASONS = {
    # offers/failures.py
    "insufficient_balance": "your account balance does not cover the price",
    "offer_inactive": "the offer is no longer available",
    "currency_mismatch": "the offer is priced in a different currency than your account",
    "subscription_not_renewable": "the subscription was cancelled and cannot be renewed",
    # offers/campaigns/rules.py Refusal
    "not_started": "the discount campaign has not started yet",
    "ended": "the discount campaign has ended",
    "paused": "the discount campaign is paused",
    "budget_exhausted": "the discount campaign has used up its budget",
    "usage_limit_reached": "the discount has reached its usage limit",
    "below_min_cart_value": "your cart is below the campaign's minimum value",
    "daily_limit_reached": "you have reached today's limit for this discount",
    "not_targeted": "the discount is not offered to you",
    "nothing_to_discount": "there was nothing to discount",
    "not_applicable_to_offer": "the discount does not apply to this offer",
    "unknown_campaign": "the discount campaign no longer exists",
    # offers/codes and offers/flash refusals
    "sold_out": "everything has already been taken",
    "pool_not_active": "the code pool is not open right now",
    "not_eligible": "you are not eligible for this promotion",
    "already_holding": "you already hold a unit of this promotion",
    # the engine
    "settlement_error": "of a technical problem on our side; you were not charged",
}


def failure_reason(code: str) -> str:
    return FAILURE_REASONS.get(code, "it could not be completed") if code else ""
