"""Liveness, readiness and metrics. /health/ does no I/O (the process answers); /ready/ checks
every dependency and answers 503 only when this instance cannot serve (monitoring/checks.py);
/metrics is the web processes' Prometheus exporter."""
import hmac
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kernel.errors import DependencyUnavailable, NotAuthenticated, NotPermitted, error_response
from monitoring.checks import DEGRADED, NOT_READY, readiness
from monitoring.exporter import web_registry

logger = logging.getLogger(__name__)


@require_GET
def health_view(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ready_view(request):
    """503 `not_ready` only when this instance cannot serve (PostgreSQL down); 200 `degraded`
    when Redis or the broker is down (monitoring/checks.py says why); 200 `ready` otherwise."""
    result = readiness()
    if result.state == NOT_READY:
        logger.warning("not ready: %s", {name: error for name, error in result.errors.items() if error})
        return error_response(DependencyUnavailable("PostgreSQL is unavailable; this instance cannot serve.",
                                                     code="not_ready", details=result.checks))
    if result.state == DEGRADED:
        logger.warning("degraded: %s", {name: error for name, error in result.errors.items() if error})
    return JsonResponse({"status": result.state, "checks": result.checks})


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
