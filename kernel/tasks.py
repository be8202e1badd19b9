"""Publishing tasks and the retry policy every task shares.

`task_publish` sends a task by its registered name, so a service never imports its app's
tasks module (which imports the service back) and the broker being down is an outcome, not
an exception: the caller's durable row stays and a beat job or sweeper sends it later."""
import logging
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# A task whose database went away retries instead of failing its message: every 1-2 s, so it
# resumes within seconds of the database coming back; after max_retries (about half a
# minute) the message is dropped and the beat sweep sends the work again from PostgreSQL.
DATABASE_RETRY_POLICY: dict[str, Any] = dict(autoretry_for=(OperationalError, InterfaceError), retry_backoff=1,
                                             retry_backoff_max=2, retry_jitter=True, max_retries=15)


def task_publish(name: str, *, args: list | tuple = (), countdown: float | None = None,
                 eta: datetime | None = None, log_refusal: bool = True) -> bool:
    """Sends task `name`; False when the broker refused it (logged unless `log_refusal` is
    off, never raised)."""
    from celery import current_app

    try:
        current_app.send_task(name, args=list(args), countdown=countdown or None, eta=eta)
        return True
    except Exception as exc:  # the broker is down: the caller's durable record is resent later
        if log_refusal:
            logger.warning("could not publish %s%s: %r", name, tuple(args), exc)
        return False
