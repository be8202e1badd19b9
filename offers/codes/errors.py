"""Why a discount code may not be used, and why a code claim fails. `sold_out` is shared
with flash promotions: `offers.errors.OfferFailure.SOLD_OUT`."""
from django.db import models


class CodeFailure(models.TextChoices):
    UNKNOWN_CODE = "unknown_code", "the discount code does not exist"
    NOT_YOURS = "code_not_yours", "the discount code belongs to someone else"
    USED = "code_used", "the discount code has already been used"
    EXPIRED = "code_expired", "the discount code has expired"
    NOT_YET_VALID = "code_not_yet_valid", "the discount code is not valid yet"
    NO_DISCOUNT = "code_without_discount", "the discount code carries no discount"
    POOL_NOT_ACTIVE = "pool_not_active", "the code pool is not open right now"
    POOL_NOT_READY = "pool_not_ready", "the pool's codes are still being generated; try again in a moment"
