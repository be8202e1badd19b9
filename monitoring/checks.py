"""The dependency checks of /ready/, also exported as offers_dependency_up and
offers_readiness_state (one function, `readiness`, for both).

Two ways of being unwell, because a load balancer acts on the answer:
* not_ready (503): PostgreSQL is unreachable. Nothing can be served without it (every
  transaction, status fallback and login lives there), so this instance should take no traffic.
* degraded (200): Redis (status store, throttles) or the broker is down. The instance still
  serves: transactions are durable in PostgreSQL and swept to the broker once it is back,
  statuses fall back to PostgreSQL, login throttles count per process. Taking every instance out
  of the load balancer for a Redis outage would turn a degradation into a full outage.
"""
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

READY, DEGRADED, NOT_READY = "ready", "degraded", "not_ready"
STATES = (READY, DEGRADED, NOT_READY)
# What an instance cannot serve without; any other dependency down only degrades it.
REQUIRED = frozenset({"database"})


@dataclass(frozen=True)
class Readiness:
    state: str
    errors: dict[str, str | None]  # per dependency: None when it answered, else the error

    @property
    def checks(self) -> dict[str, str]:
        return {name: "down" if error else "ok" for name, error in self.errors.items()}


def readiness() -> Readiness:
    errors = {
        "database": database_check(),
        "redis": redis_check(settings.CACHE_REDIS_URL),
        "broker": redis_check(settings.CELERY_BROKER_URL),
    }
    down = {name for name, error in errors.items() if error}
    state = NOT_READY if down & REQUIRED else DEGRADED if down else READY
    return Readiness(state=state, errors=errors)


def database_check() -> str | None:
    """Through the process's own connection handling: with the web's database circuit open
    this fails at once instead of waiting on the pool."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means unreachable
        return repr(exc)
    return None


def redis_check(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        return repr(exc)
    finally:
        client.close()
    return None
