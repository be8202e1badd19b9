"""Liveness and readiness. /health/ does no I/O (the process answers); /ready/ checks every
dependency a request needs and answers 503 when one is down."""
import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def health_view(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means not ready
        return repr(exc)
    return None


def _check_redis(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        return repr(exc)
    finally:
        client.close()
    return None


@require_GET
def ready_view(request):
    checks = {
        "database": _check_database(),
        "redis": _check_redis(settings.CACHE_REDIS_URL),
        "broker": _check_redis(settings.CELERY_BROKER_URL),
    }
    failing = {name: error for name, error in checks.items() if error}
    if failing:
        logger.warning("not ready: %s", failing)
        body = {"code": "not_ready", "message": "A dependency is unavailable.",
                "details": {name: "down" for name in failing}}
        response = JsonResponse(body, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ready", "checks": {name: "ok" for name in checks}})
