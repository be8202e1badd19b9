"""Why a flash reservation, purchase or reversal is refused. `sold_out` is shared with code
pools (`offers.errors.OfferFailure.SOLD_OUT`); so are the account checks of a purchase."""
from django.db import models

from kernel.errors import ConflictError


class FlashFailure(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", "you are not eligible for this promotion"
    ALREADY_HOLDING = "already_holding", "you already hold a unit of this promotion"
    CUSTOMER_LIMIT_REACHED = "customer_limit_reached", "you already have every unit one customer may buy"
    PROMO_CANCELLED = "promo_cancelled", "the promotion was withdrawn"
    PURCHASE_NOT_REVERSED = "purchase_not_reversed", "the unit was bought: its purchase must be reversed first"


class HoldExpired(ConflictError):
    code = "hold_expired"
    message = "The hold lapsed before it was completed; the unit is available to others again."
