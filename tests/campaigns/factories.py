from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import factory

from activation.models import Transaction
from offers.campaigns.models import Campaign
from offers.campaigns.services import KIND_DISCOUNT_REDEMPTION


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    target = Campaign.Target.CART
    kind = Campaign.Kind.FLAT
    value = Decimal("10.00")
    starts_on = factory.LazyFunction(lambda: date.today() - timedelta(days=2))
    ends_on = factory.LazyFunction(lambda: date.today() + timedelta(days=30))
    timezone = "UTC"
    currency = "EUR"
    total_budget = Decimal("1000.00")
    status = Campaign.Status.ACTIVE


def pending_redemption(user, campaign=None, *, campaigns=(), cart_value="100.00", delivery_charge="0", currency=None,
                       order_reference="", created_at=None) -> Transaction:
    """A PENDING redemption row as the API writes it (one campaign, or a combination), without
    dispatching it to a worker. No order reference: an order of its own."""
    campaigns = list(campaigns) or [campaign]
    currency = currency or campaigns[0].currency
    fields = {"created_at": created_at} if created_at else {}
    return Transaction.objects.create(
        kind=KIND_DISCOUNT_REDEMPTION, user=user, currency=currency,
        payload={"campaign_ids": [c.id for c in campaigns], "cart_value": str(cart_value),
                 "delivery_charge": str(delivery_charge), "currency": currency, "order_reference": order_reference},
        **fields)


def timezone_around_noon(now: datetime | None = None) -> str:
    """An IANA zone in which it is between 12:00 and 13:00 right now. A test that counts a
    customer's uses "today" with the clock of the API (not a created_at it chose) uses it as
    the campaign's zone, so no local midnight can fall between its steps."""
    now = now or datetime.now(dt_timezone.utc)
    offset = 12 - now.astimezone(dt_timezone.utc).hour  # -11 .. +12 hours from UTC
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-2 is UTC+2
