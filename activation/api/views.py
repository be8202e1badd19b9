import asyncio
import json
import logging
from uuid import UUID

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_yasg.utils import no_body, swagger_auto_schema
from rest_framework import exceptions, generics
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.serializers import (StatusWaitSerializer, TransactionFilterSerializer, TransactionSerializer,
                                        TransactionStatusSerializer)
from activation.models import Transaction
from activation.selectors import (status_hint_is_fresh, transaction_get_for_reversal, transaction_get_for_user,
                                  transaction_list_for_user, transaction_status_get)
from activation.services import transaction_reverse
from activation.status import redis_client_async, status_channel, status_read_async
from kernel.api import ErrorSerializer
from kernel.async_db import database_call
from kernel.errors import error_response
from kernel.jwt_auth import RememberingJWTAuthentication

logger = logging.getLogger(__name__)
TERMINAL = {s.value for s in Transaction.TERMINAL}
DB_POLL_INTERVAL_SECONDS = 0.5


class TransactionListApi(generics.ListAPIView):
    serializer_class = TransactionSerializer

    @swagger_auto_schema(query_serializer=TransactionFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = TransactionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return transaction_list_for_user(user_id=self.request.user.id, kind=filters.validated_data.get("kind"),
                                         status=filters.validated_data.get("status"))


class TransactionDetailApi(APIView):
    @swagger_auto_schema(responses={200: TransactionSerializer})
    def get(self, request, transaction_id: UUID):
        txn = transaction_get_for_user(user_id=request.user.id, transaction_id=transaction_id)
        if txn is None:
            raise exceptions.NotFound("No such transaction.")
        return Response(TransactionSerializer(txn).data)


class TransactionReverseApi(APIView):
    """Reverses a succeeded transaction: restores every counter it consumed. Staff may reverse
    any kind; a customer only their own discount redemptions (403 otherwise)."""

    @swagger_auto_schema(request_body=no_body, responses={200: TransactionSerializer, 403: ErrorSerializer,
                                                          404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, transaction_id: UUID):
        txn = transaction_get_for_reversal(transaction_id=transaction_id, user=request.user)
        if txn is None:
            raise exceptions.NotFound("No such transaction.")
        reversal = transaction_reverse(transaction_id=txn.id, requested_by_id=request.user.id,
                                       as_staff=request.user.is_staff)
        return Response(TransactionSerializer(reversal).data)


class TransactionStatusApi(APIView):
    """Documentation twin of `transaction_status_view` (the async view that serves the path)."""

    @swagger_auto_schema(
        operation_id="activation_status_read",
        operation_description="Status of one of my transactions, from Redis with a PostgreSQL fallback. "
                              "`?wait=N` (0-30 s) long-polls until the transaction is terminal or N runs out.",
        query_serializer=StatusWaitSerializer, responses={200: TransactionStatusSerializer})
    def get(self, request, transaction_id: UUID):  # pragma: no cover - never routed
        raise exceptions.NotFound()


def _authenticated_remembered(request):
    """The request's user when this process remembers its token and user: read in the event
    loop, with no hop to a thread and no query."""
    remembered = RememberingJWTAuthentication().authenticate_remembered(request)
    if remembered is None or not remembered[0].is_active:
        return None
    return remembered[0]


def _authenticate(request):
    authentication = RememberingJWTAuthentication()
    try:
        result = authentication.authenticate(request)
        if result is None:
            raise exceptions.NotAuthenticated()
        user, _ = result
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive.")
    except exceptions.APIException as exc:
        exc.auth_header = authentication.authenticate_header(request)  # as DRF's APIView does
        raise
    return user


def _public(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "user_id"}


@csrf_exempt  # authenticated by a bearer token, never a cookie (DRF exempts its views alike)
async def transaction_status_view(request, transaction_id: UUID):
    """GET activation/status/{id}/[?wait=N]. An async view: a waiting client costs a
    coroutine and a pub/sub subscription, not a thread or a pooled connection. Every refusal is answered by
    the API's one error handler (`kernel.errors.error_response`), like a DRF view's."""
    try:
        return await _transaction_status(request, transaction_id)
    except exceptions.MethodNotAllowed as exc:
        return error_response(exc, headers={"Allow": "GET"})
    except (OperationalError, InterfaceError, exceptions.APIException) as exc:  # PostgreSQL down: 503
        return error_response(exc)


async def _transaction_status(request, transaction_id: UUID):
    if request.method != "GET":
        raise exceptions.MethodNotAllowed(request.method)
    user = _authenticated_remembered(request) or await database_call(_authenticate, request)
    params = StatusWaitSerializer(data=request.GET)
    params.is_valid(raise_exception=True)
    wait = min(params.validated_data["wait"], settings.LONG_POLL_MAX_SECONDS)

    payload = await _status_current(transaction_id, user.id)
    if payload is None:
        raise exceptions.NotFound("No such transaction.")
    if payload["status"] not in TERMINAL and wait > 0:
        payload = await _status_wait(transaction_id, user.id, wait)
    return JsonResponse(_public(payload))


async def _status_current(transaction_id: UUID, user_id: int) -> dict | None:
    hint = await status_read_async(transaction_id)
    if hint is not None and hint.get("user_id") == user_id and status_hint_is_fresh(hint):
        return hint
    return await database_call(transaction_status_get, transaction_id=transaction_id, user_id=user_id)


async def _status_wait(transaction_id: UUID, user_id: int, wait: float) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    try:
        pubsub = redis_client_async().pubsub()
        try:
            await pubsub.subscribe(status_channel(transaction_id))
            # Subscribed before re-reading, so a settlement in between cannot be missed.
            payload = await _status_current(transaction_id, user_id)
            while payload["status"] not in TERMINAL and (remaining := deadline - loop.time()) > 0:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(remaining, 5.0))
                if message is not None:
                    payload = json.loads(message["data"])
                elif loop.time() < deadline:
                    payload = await _status_current(transaction_id, user_id)
        finally:
            await pubsub.aclose()
        if payload["status"] in TERMINAL:
            return payload
    except (redis.RedisError, OSError) as exc:
        logger.info("long-poll falls back to PostgreSQL polling: %r", exc)
    # Redis unreachable or the wait ran out: poll the source of truth.
    while True:
        payload = await database_call(transaction_status_get, transaction_id=transaction_id, user_id=user_id)
        if payload["status"] in TERMINAL or loop.time() >= deadline:
            return payload
        await asyncio.sleep(min(DB_POLL_INTERVAL_SECONDS, max(deadline - loop.time(), 0)))
