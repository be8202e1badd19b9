"""Why a discount redemption is refused (`campaign_evaluate`'s refusals and the settler's).
A refusal shared with offers (`currency_mismatch`) is `offers.errors.OfferFailure`'s."""
from django.db import models


class CampaignFailure(models.TextChoices):
    NOT_STARTED = "not_started", "the discount campaign has not started yet"
    ENDED = "ended", "the discount campaign has ended"
    PAUSED = "paused", "the discount campaign is paused"
    BUDGET_EXHAUSTED = "budget_exhausted", "the discount campaign has used up its budget"
    USAGE_LIMIT_REACHED = "usage_limit_reached", "the discount has reached its usage limit"
    BELOW_MIN_CART_VALUE = "below_min_cart_value", "your cart is below the campaign's minimum value"
    DAILY_LIMIT_REACHED = "daily_limit_reached", "you have reached today's limit for this discount"
    NOT_TARGETED = "not_targeted", "the discount is not offered to you"
    NOTHING_TO_DISCOUNT = "nothing_to_discount", "there was nothing to discount"
    NOT_APPLICABLE_TO_OFFER = "not_applicable_to_offer", "the discount does not apply to this offer"
    UNKNOWN_CAMPAIGN = "unknown_campaign", "the discount campaign no longer exists"
    ALREADY_IN_ORDER = "already_in_order", "this discount is already applied to your order"
    NOT_COMBINABLE = "not_combinable", "this discount cannot be combined with the others on your order"
    ORDER_CART_MISMATCH = ("order_cart_mismatch",
                           "the cart differs from the one your order's other discounts were given for")
    CODE_REQUIRED = "code_required", "this discount needs a discount code"
