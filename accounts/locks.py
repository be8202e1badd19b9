from django.db.models import QuerySet

from accounts.models import Account


def account_for_update() -> QuerySet[Account]:
    return Account.objects.select_for_update().order_by("pk")
