from django.db.models import QuerySet

from activation.models import Transaction


def transaction_for_update() -> QuerySet[Transaction]:
    return Transaction.objects.select_for_update().order_by("pk")
