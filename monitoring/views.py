"""Liveness, readiness and metrics. /health/ does no I/O (the process answers); /ready/ checks
every dependency a request needs and answers 503 when one is down; /metrics is the web
processes' Prometheus exporter."""
import hmac
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kernel.errors import DependencyUnavailable, NotAuthenticated, NotPermitted, error_response
from monitoring.checks import database_check, redis_check
from monitoring.exporter import web_registry

logger = logging.getLogger(__name__)


@require_GET
def health_view(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ready_view(request):
    checks = {
        "database": database_check(),
        "redis": redis_check(settings.CACHE_REDIS_URL),
        "broker": redis_check(settings.CELERY_BROKER_URL),
    }
    failing = {name: error for name, error in checks.items() if error}
    if failing:
        logger.warning("not ready: %s", failing)
        return error_response(DependencyUnavailable("A dependency is unavailable.", code="not_ready",
                                                     details={name: "down" for name in failing}))
    return JsonResponse({"status": "ready", "checks": {name: "ok" for name in checks}})


@require_GET
def metrics_view(request):
    """Open when METRICS_TOKEN is empty (local); otherwise `Authorization: Bearer <token>`
    is required (production settings refuse to start without a token)."""
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return error_response(NotAuthenticated("A bearer token is required for /metrics."),
                                  headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        if not hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode()):
            return error_response(NotPermitted("The token is not valid for /metrics."))
    return HttpResponse(generate_latest(web_registry()), content_type=CONTENT_TYPE_LATEST)
