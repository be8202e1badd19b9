"""Celery autodiscovery imports `<app>.tasks`; the features of the catalogue keep their
tasks in their own modules, imported here so the worker registers them."""
from offers.flash.tasks import *  # noqa: F401,F403
