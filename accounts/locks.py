from django.db.models import QuerySet

from accounts.models import Account, CustomerProfile, Segment, User


def account_for_update() -> QuerySet[Account]:
    return Account.objects.select_for_update().order_by("pk")


def user_for_update() -> QuerySet[User]:
    return User.objects.select_for_update().order_by("pk")


def segment_for_update() -> QuerySet[Segment]:
    return Segment.objects.select_for_update().order_by("pk")


def customer_profile_for_update() -> QuerySet[CustomerProfile]:
    return CustomerProfile.objects.select_for_update().order_by("pk")
