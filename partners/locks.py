from django.db.models import QuerySet

from partners.models import CallbackDelivery


def callback_delivery_for_update(*, skip_locked: bool = False) -> QuerySet[CallbackDelivery]:
    """The lease, an attempt's record and a redelivery each hold the delivery row; `skip_locked`
    lets a claim pass over a row another worker is recording."""
    return CallbackDelivery.objects.select_for_update(skip_locked=skip_locked)
