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
    "already_in_order": "this discount is already applied to your order",
    "not_combinable": "this discount cannot be combined with the others on your order",
    "order_cart_mismatch": "the cart differs from the one your order's other discounts were given for",
    "code_required": "this discount needs a discount code",
    "no_account": "there is no account to charge",
    # offers/codes/rules.py
    "unknown_code": "the discount code does not exist",
    "code_not_yours": "the discount code belongs to someone else",
    "code_used": "the discount code has already been used",
    "code_expired": "the discount code has expired",
    "code_not_yet_valid": "the discount code is not valid yet",
    "code_without_discount": "the discount code carries no discount",
    # offers/codes and offers/flash refusals
    "sold_out": "everything has already been taken",
    "pool_not_active": "the code pool is not open right now",
    "not_eligible": "you are not eligible for this promotion",
    "already_holding": "you already hold a unit of this promotion",
    "customer_limit_reached": "you already have every unit one customer may buy",
    "pool_not_ready": "the pool's codes are still being generated; try again in a moment",
    # the engine
    "settlement_error": "of a technical problem on our side; you were not charged",
}


def failure_reason(code: str) -> str:
    return FAILURE_REASONS.get(code, "it could not be completed") if code else ""
