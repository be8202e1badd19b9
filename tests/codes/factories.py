import factory
from django.db import transaction

from accounts.models import Account, CustomerProfile, User
from offers.codes.models import Brand


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")


def customers_bulk(count: int, *, prefix: str, segment=None, latitude=None, longitude=None) -> list[User]:
    """Many customers at once (profile + account, no password hashing): for concurrency
    tests that need hundreds of distinct users and never log them in."""
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"{prefix}-{i}", email=f"{prefix}-{i}@example.com",
                                               password="!") for i in range(count)])
        CustomerProfile.objects.bulk_create([CustomerProfile(user=u, segment=segment, latitude=latitude,
                                                             longitude=longitude) for u in users])
        Account.objects.bulk_create([Account(user=u) for u in users])
    return users
