from decimal import Decimal

import factory
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Segment, User
from accounts.services import account_top_up, customer_create
from offers.models import Offer

PASSWORD = "test-pass-123"


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"segment-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    name = factory.Sequence(lambda n: f"Offer {n}")
    category = Offer.Category.INTERNET
    price = Decimal("10.00")
    currency = "EUR"
    validity_days = 30
    is_active = True


_counter = iter(range(1, 10**9))


def customer(*, balance: Decimal | str = "0", username: str | None = None, **fields) -> User:
    """A customer with a profile and an account funded through the ledger."""
    n = next(_counter)
    username = username or f"customer{n}"
    fields.setdefault("email", f"{username}@example.com")
    user = customer_create(username=username, password=PASSWORD, **fields)
    if Decimal(balance) > 0:
        account_top_up(user=user, amount=Decimal(balance))
    return user


def bearer(user: User) -> str:
    return f"Bearer {AccessToken.for_user(user)}"
