"""Why an offer transaction finishes FAILED, and the refusals several offer packages share
(`sold_out`: code pools and flash promotions). The value is the API's `failure_code`; the
label is what a customer is told (notifications render it)."""
from django.db import models


class OfferFailure(models.TextChoices):
    INSUFFICIENT_BALANCE = "insufficient_balance", "your account balance does not cover the price"
    OFFER_INACTIVE = "offer_inactive", "the offer is no longer available"
    CURRENCY_MISMATCH = "currency_mismatch", "the offer is priced in a different currency than your account"
    SUBSCRIPTION_NOT_RENEWABLE = "subscription_not_renewable", "the subscription was cancelled and cannot be renewed"
    NO_ACCOUNT = "no_account", "there is no account to charge"
    SOLD_OUT = "sold_out", "everything has already been taken"
