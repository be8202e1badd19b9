"""One error vocabulary and one error shape for the whole API: {"code", "message", "details"}.

Services raise `ApplicationError` (or one of its kinds below) for refusals that happen before
a transaction exists; they carry a machine-readable code, a message and details, never an
HTTP status. `HTTP_STATUS` maps each kind to its status, and `error_parts` turns any
exception a view lets through (application errors, DRF's and Django's own, a dependency
down) into a status, a body and headers: the DRF handler, `error_response` (plain and async
Django views) and the Django error handlers all answer through it.

Business refusals of a settlement are outcomes, not exceptions: each app names them in a
`models.TextChoices` enum (its `errors.py`) whose labels are what a customer is told, and
registers that enum here (`failure_codes_register`, from its AppConfig.ready) so that
notifications can put any code in words without importing the app.
"""
import logging

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DbInterfaceError
from django.db import OperationalError as DbOperationalError
from django.db import models
from django.http import Http404, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

DEPENDENCY_RETRY_AFTER_SECONDS = 5


# --- the application error and its kinds -----------------------------------------------------

class ApplicationError(Exception):
    """A refusal: the request cannot be carried out as asked (the base kind: invalid)."""

    code = "bad_request"
    message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}




class NotAuthenticated(ApplicationError):
    code = "not_authenticated"
    message = "Authentication credentials were not provided."


class NotPermitted(ApplicationError):
    code = "permission_denied"
    message = "You are not allowed to do this."


class NotFound(ApplicationError):
    code = "not_found"
    message = "Not found."


class ConflictError(ApplicationError):
    code = "conflict"
    message = "The resource is in a state that does not allow this."


class IdempotencyInProgress(ApplicationError):
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request body."


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"
    message = "The request body is too large."


class DependencyUnavailable(ApplicationError):
    code = "service_unavailable"
    message = "A dependency is temporarily unavailable; retry shortly."


# Each kind's HTTP status; a subclass (an app's own refusal) answers as its nearest kind.
HTTP_STATUS: dict[type[ApplicationError], int] = {
    ApplicationError: 400,
    NotAuthenticated: 401,
    NotPermitted: 403,
    NotFound: 404,
    ConflictError: 409,
    IdempotencyInProgress: 409,
    PayloadTooLarge: 413,
    IdempotencyKeyReused: 422,
    DependencyUnavailable: 503,
}


def http_status(exc: ApplicationError) -> int:
    return next(HTTP_STATUS[kind] for kind in type(exc).__mro__ if kind in HTTP_STATUS)


# --- failure codes: every app's enum, registered in one place -----------------------------------

_FAILURE_LABELS: dict[str, tuple[type[models.TextChoices], str]] = {}


def failure_codes_register(enum: type[models.TextChoices]) -> None:
    """Adds an app's failure-code enum (called from its AppConfig.ready). A code belongs to
    one enum: a code two apps share is defined once, where both can import it."""
    for member in enum:
        owner = _FAILURE_LABELS.get(member.value, (enum, ""))[0]
        if owner is not enum:
            raise ImproperlyConfigured(f"failure code {member.value!r} is defined by {owner.__qualname__} "
                                       f"and {enum.__qualname__}")
    _FAILURE_LABELS.update({member.value: (enum, str(member.label)) for member in enum})


def failure_label(code: str) -> str | None:
    """What a customer is told for a failure code (None: no registered enum has it)."""
    entry = _FAILURE_LABELS.get(code)
    return entry[1] if entry else None


def failure_enums() -> list[type[models.TextChoices]]:
    return list(dict.fromkeys(enum for enum, _ in _FAILURE_LABELS.values()))


# --- the one handler --------------------------------------------------------------------------

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

_DEPENDENCY_ERRORS = (DbOperationalError, DbInterfaceError, RedisConnectionError, RedisTimeoutError,
                      BrokerOperationalError)


def error_parts(exc: Exception) -> tuple[int, dict, dict] | None:
    """(status, body, headers) for an exception a view let through; None for a bug (Django's
    handler500 answers it, in the same shape)."""
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, _DEPENDENCY_ERRORS):
        logger.warning("dependency unavailable: %r", exc)
        exc = DependencyUnavailable()
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)} if isinstance(exc, DependencyUnavailable) else {}
        return http_status(exc), error_body(exc.code, exc.message, exc.details), headers
    if not isinstance(exc, drf.APIException):
        return None
    for exc_class, code, message in DRF_CODES:
        if isinstance(exc, exc_class):
            break
    else:
        code, message = "error", "The request could not be processed."
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)
    detail = exc.detail
    if isinstance(exc, drf.ValidationError):
        details = detail if isinstance(detail, (dict, list)) else {"non_field_errors": [detail]}
        return exc.status_code, error_body(code, message, details), headers
    if isinstance(exc, (drf.AuthenticationFailed, drf.NotAuthenticated)):
        own = _drf_code(exc, code)
        code = own if own not in {"authentication_failed", "not_authenticated"} else code
    plain = _plain_message(detail) or message
    details = {k: v for k, v in detail.items() if k != "detail"} if isinstance(detail, dict) else {}
    return exc.status_code, error_body(code, plain, details), headers


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER."""
    parts = error_parts(exc)
    if parts is None:
        return None  # a bug: Django's handler500 answers in the error shape
    status, body, headers = parts
    return Response(body, status=status, headers=headers)


def error_response(exc: Exception, *, headers: dict | None = None) -> JsonResponse:
    """The handler's answer for views outside DRF (plain and async Django views). `headers`
    adds to the handler's (e.g. the realm of a WWW-Authenticate challenge)."""
    parts = error_parts(exc)
    if parts is None:
        raise exc
    status, body, own_headers = parts
    response = JsonResponse(body, status=status)
    for name, value in {**own_headers, **(headers or {})}.items():
        response[name] = value
    return response


def handler400(request, exception=None):
    return error_response(ApplicationError("The request is invalid."))


def handler403(request, exception=None):
    return error_response(NotPermitted("You do not have permission to do this."))


def handler404(request, exception=None):
    return error_response(NotFound())


def handler500(request):
    return JsonResponse(error_body("internal_error", "An unexpected error occurred; it has been logged."), status=500)
