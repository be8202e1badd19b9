"""One error shape for the whole API: {"code", "message", "details"}.

Domain code raises `ApiError` subclasses for client-visible refusals that happen before a
transaction exists (idempotency conflicts, bad state); everything DRF or Django raises is
mapped here too, so no client input ends in a 500 or an HTML page.
"""
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DbInterfaceError
from django.db import OperationalError as DbOperationalError
from django.http import Http404, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

DEPENDENCY_RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"
    message = "The resource is in a state that does not allow this."


class NotPermitted(ApiError):
    status_code = 403
    code = "permission_denied"
    message = "You are not allowed to do this."


class IdempotencyInProgress(ApiError):
    status_code = 409
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


class IdempotencyKeyReused(ApiError):
    status_code = 422
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request body."


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class DependencyUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"
    message = "A dependency is temporarily unavailable; retry shortly."


def error_body(code: str, message: str, details: dict | list | None = None) -> dict:
    if isinstance(details, list):
        details = {"non_field_errors": details}
    return {"code": code, "message": message, "details": details or {}}


def _drf_code(exc: drf.APIException, fallback: str) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return codes["code"]
    return fallback


def _plain_message(detail) -> str:
    if isinstance(detail, dict) and "detail" in detail:
        return str(detail["detail"])
    if isinstance(detail, (list, dict)):
        return ""
    return str(detail)


DRF_CODES = [
    (drf.ValidationError, "validation_error", "The request is invalid."),
    (drf.ParseError, "malformed_request", "The request body could not be parsed."),
    (drf.NotAuthenticated, "not_authenticated", "Authentication credentials were not provided."),
    (drf.AuthenticationFailed, "authentication_failed", "Authentication failed."),
    (drf.PermissionDenied, "permission_denied", "You do not have permission to do this."),
    (drf.NotFound, "not_found", "Not found."),
    (drf.MethodNotAllowed, "method_not_allowed", "Method not allowed."),
    (drf.NotAcceptable, "not_acceptable", "Not acceptable."),
    (drf.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type; send application/json."),
    (drf.Throttled, "throttled", "Too many requests."),
]


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER."""
    headers = {}
    if isinstance(exc, ApiError):
        if isinstance(exc, DependencyUnavailable):
            headers["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body(PayloadTooLarge.code, PayloadTooLarge.message), status=413)
    elif isinstance(exc, (DbOperationalError, DbInterfaceError, RedisConnectionError, RedisTimeoutError,
                          BrokerOperationalError)):
        logger.warning("dependency unavailable: %r", exc)
        return Response(
            error_body(DependencyUnavailable.code, DependencyUnavailable.message),
            status=503, headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)},
        )
    if not isinstance(exc, drf.APIException):
        return None  # a bug: Django's handler500 answers in the error shape
    for exc_class, code, message in DRF_CODES:
        if isinstance(exc, exc_class):
            break
    else:
        code, message = "error", "The request could not be processed."
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)
    detail = exc.detail
    if isinstance(exc, drf.ValidationError):
        details = detail if isinstance(detail, (dict, list)) else {"non_field_errors": [detail]}
        return Response(error_body(code, message, details), status=exc.status_code, headers=headers)
    if isinstance(exc, (drf.AuthenticationFailed, drf.NotAuthenticated)):
        code = _drf_code(exc, code) if _drf_code(exc, code) not in {"authentication_failed", "not_authenticated"} else code
    plain = _plain_message(detail) or message
    details = {k: v for k, v in detail.items() if k != "detail"} if isinstance(detail, dict) else {}
    return Response(error_body(code, plain, details), status=exc.status_code, headers=headers)


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def handler400(request, exception=None):
    return _json_error(400, "bad_request", "The request is invalid.")


def handler403(request, exception=None):
    return _json_error(403, "permission_denied", "You do not have permission to do this.")


def handler404(request, exception=None):
    return _json_error(404, "not_found", "Not found.")


def handler500(request):
    return _json_error(500, "internal_error", "An unexpected error occurred; it has been logged.")
