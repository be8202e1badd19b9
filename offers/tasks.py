"""Celery autodiscovery imports `<app>.tasks`; the features of the catalogue keep their
tasks in their own modules, imported here so the worker registers them."""
from offers.codes.tasks import *  # noqa: F401,F403
from offers.flash.tasks import *  # noqa: F401,F403

from celery import shared_task  # noqa: E402


@shared_task(acks_late=True)
def subscriptions_expire_task() -> int:
    from offers.subscriptions import subscriptions_expire

    return len(subscriptions_expire())


@shared_task(acks_late=True)
def subscriptions_auto_renew_task() -> int:
    from offers.subscriptions import subscriptions_auto_renew_due

    return len(subscriptions_auto_renew_due())
