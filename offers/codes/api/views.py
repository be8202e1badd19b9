import csv

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response, accepting_schema, accepting_view, idempotency_key_from
from activation.services import Accepted
from kernel.api import ErrorSerializer
from offers.codes.api.serializers import (CodeClaimRequestSerializer, CodePoolCreateSerializer, CodePoolSerializer,
                                          DiscountCodeSerializer)
from offers.codes.api.serializers import CodeGrantSerializer, CodePoolOpenSerializer
from offers.codes.models import CodePool
from offers.codes.selectors import (code_pool_claimable_get, discount_code_export_rows,
                                    discount_code_list_for_user)
from offers.codes.services import code_claim_request, code_pool_create
from offers.codes.services import code_grant_request, code_pool_list_open
from offers.merchants import IsMerchant, managed_by, managed_get


def _pools_managed(user):
    """Pools of the brands the user manages (platform staff: all): offers.merchants."""
    return managed_by(CodePool.objects.select_related("brand").order_by("-id"), user=user)


class CodePoolListCreateApi(generics.ListAPIView):
    """Pools I manage (platform staff: all), with remaining counts. POST creates a pool: up
    to CODE_POOL_SYNC_MAX codes are generated in the request (201, `ready`); a larger pool
    answers 202 at once (`generating`, Location: its detail, where `generated_count` grows
    until it is `ready`)."""

    serializer_class = CodePoolSerializer

    def get_queryset(self):
        return _pools_managed(self.request.user)

    @swagger_auto_schema(request_body=CodePoolCreateSerializer,
                         responses={201: CodePoolSerializer, 202: CodePoolSerializer})
    def post(self, request):
        serializer = CodePoolCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        pool = code_pool_create(created_by_id=request.user.id, **serializer.validated_data)
        if pool.status == CodePool.Status.READY:
            return Response(CodePoolSerializer(pool).data, status=status.HTTP_201_CREATED)
        return Response(CodePoolSerializer(pool).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": reverse("code-pool-detail", kwargs={"pk": pool.id})})


class CodePoolDetailApi(generics.RetrieveAPIView):
    serializer_class = CodePoolSerializer

    def get_queryset(self):
        return _pools_managed(self.request.user)


class _Echo:
    def write(self, value):
        return value


class CodePoolExportApi(APIView):
    """CSV of every code of the pool: who claimed it and when (blank if still free)."""

    def perform_content_negotiation(self, request, force=False):
        # The export is CSV whatever the renderers: `Accept: text/csv` is not a 406. Errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @swagger_auto_schema(operation_id="codes_pools_export_csv", produces=["text/csv", "application/json"], responses={
        200: openapi.Response("text/csv: a header row (code, claimed_by_id, claimed_by_username, claimed_by_email, "
                              "claimed_at), then one row per code.", openapi.Schema(type=openapi.TYPE_STRING)),
        404: ErrorSerializer})
    def get(self, request, pk: int):
        pool = _pools_managed(request.user).filter(pk=pk).first()
        if pool is None:
            raise NotFound()
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse((writer.writerow(row) for row in discount_code_export_rows(pool=pool)),
                                         content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="pool-{pool.id}-codes.csv"'
        return response


class CodeClaimApi(APIView):
    """Accepts a claim of one code of the pool: 202 with a transaction id; the settled
    result carries the code (the same one on every later claim)."""

    throttle_scope = "transactions"

    @accepting_schema(request_body=CodeClaimRequestSerializer)
    def post(self, request, pk: int):
        key = idempotency_key_from(request)
        serializer = CodeClaimRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return accepted_response(_claim_accept(request.user, serializer.validated_data, key, pk=pk))


def _claim_accept(user, data: dict, key: str | None, *, pk: int) -> Accepted:
    pool = code_pool_claimable_get(pool_id=pk)
    if pool is None:
        raise NotFound("Unknown code pool.")
    return code_claim_request(user_id=user.id, pool=pool, idempotency_key=key)


code_claim_view = accepting_view(CodeClaimApi, serializer_class=CodeClaimRequestSerializer, accept=_claim_accept)


class MyCodesApi(generics.ListAPIView):
    serializer_class = DiscountCodeSerializer

    def get_queryset(self):
        return discount_code_list_for_user(user_id=self.request.user.id)


class CodePoolOpenApi(generics.ListAPIView):
    """Pools I may claim from now (ready, within their validity window, with codes left),
    and those I already hold a code of (`my_code`)."""

    serializer_class = CodePoolOpenSerializer

    def get_queryset(self):
        return code_pool_list_open(user_id=self.request.user.id)


class CodeGrantApi(APIView):
    """Hands a named customer (user id or email) a code of a pool I manage, through the
    engine like their own claim: 202 with the customer's `code_claim` transaction; a
    customer who already holds a code of the pool keeps it (`already_claimed`)."""

    throttle_scope = "transactions"
    permission_classes = [IsAuthenticated, IsMerchant]  # a customer: 403; another brand's pool: 404

    @accepting_schema(request_body=CodeGrantSerializer)
    def post(self, request, pk: int):
        key = idempotency_key_from(request)
        pool = managed_get(CodePool.objects.all(), user=request.user, pk=pk, message="Unknown code pool.")
        serializer = CodeGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return accepted_response(code_grant_request(pool=pool, customer_id=serializer.validated_data["customer"].id,
                                                    granted_by_id=request.user.id, idempotency_key=key))
