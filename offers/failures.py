from django.db import models


class OfferFailure(models.TextChoices):
    """Machine-readable reasons an offer transaction finishes FAILED."""

    INSUFFICIENT_BALANCE = "insufficient_balance", "The account balance does not cover the price."
    OFFER_INACTIVE = "offer_inactive", "The offer is no longer available."
    CURRENCY_MISMATCH = "currency_mismatch", "The offer is priced in another currency than the account."
    SUBSCRIPTION_NOT_RENEWABLE = "subscription_not_renewable", "The subscription was cancelled and cannot be renewed."
    NO_ACCOUNT = "no_account", "The customer has no account to charge."
