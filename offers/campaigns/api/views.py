from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response, idempotency_key_from
from config.api import TransactionAcceptedSerializer
from offers.campaigns.api.serializers import (AvailableResponseSerializer, CampaignFilterSerializer,
                                              CampaignSerializer, CampaignStatusSerializer, CartSerializer,
                                              CodeCheckResultSerializer, CodeCheckSerializer, ExplainSerializer, RedeemSerializer, RedemptionSerializer,
                                              UsageFilterSerializer)
from accounts.selectors import account_currency
from offers.campaigns.rules import Cart
from offers.campaigns.selectors import campaign_list, discount_code_check, discounts_available, redemption_list
from offers.campaigns.services import (campaign_create, campaign_delete, campaign_status_set, campaign_update,
                                       discount_redemption_request)


class CampaignListCreateApi(generics.ListAPIView):
    """Staff: list (filters: status, target, active_now) and create campaigns."""

    serializer_class = CampaignSerializer
    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(query_serializer=CampaignFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = CampaignFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return campaign_list(**filters.validated_data)

    @swagger_auto_schema(request_body=CampaignSerializer, responses={201: CampaignSerializer})
    def post(self, request):
        serializer = CampaignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(**serializer.validated_data)
        return Response(CampaignSerializer(campaign_list().get(pk=campaign.pk)).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    permission_classes = [permissions.IsAdminUser]

    def _get(self, pk: int):
        campaign = campaign_list().filter(pk=pk).first()
        if campaign is None:
            raise NotFound("No such campaign.")
        return campaign

    @swagger_auto_schema(responses={200: CampaignSerializer})
    def get(self, request, pk: int):
        return Response(CampaignSerializer(self._get(pk)).data)

    @swagger_auto_schema(request_body=CampaignSerializer, responses={200: CampaignSerializer})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @swagger_auto_schema(request_body=CampaignSerializer, responses={200: CampaignSerializer})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        campaign = self._get(pk)
        serializer = CampaignSerializer(campaign, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        campaign_update(campaign=campaign, **serializer.validated_data)
        return Response(CampaignSerializer(self._get(pk)).data)

    @swagger_auto_schema(responses={204: "Deleted"})
    def delete(self, request, pk: int):
        campaign_delete(campaign=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignStatusApi(APIView):
    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(request_body=CampaignStatusSerializer, responses={200: CampaignSerializer})
    def patch(self, request, pk: int):
        campaign = campaign_list().filter(pk=pk).first()
        if campaign is None:
            raise NotFound("No such campaign.")
        serializer = CampaignStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign_status_set(campaign=campaign, status=serializer.validated_data["status"])
        return Response(CampaignSerializer(campaign_list().get(pk=pk)).data)


class DiscountsAvailableApi(APIView):
    """Every campaign that applies to my cart now, best first, and the best combination."""

    @swagger_auto_schema(request_body=CartSerializer, query_serializer=ExplainSerializer,
                         responses={200: AvailableResponseSerializer})
    def post(self, request):
        query = ExplainSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        serializer = CartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(discounts_available(user_id=request.user.id, explain=query.validated_data["explain"],
                                            cart=cart_of(request.user, data),
                                            order_reference=data.get("order_reference")))


class DiscountRedeemApi(APIView):
    """Redeems one campaign or a combination in my order (202); settlement re-checks every
    rule, the order's included, and grants all or nothing."""

    throttle_scope = "transactions"

    @swagger_auto_schema(request_body=RedeemSerializer, responses={202: TransactionAcceptedSerializer})
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = RedeemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        accepted = discount_redemption_request(user_id=request.user.id, campaign_ids=data["campaign_ids"],
                                               cart=cart_of(request.user, data), code=data.get("code"),
                                               order_reference=data["order_reference"], idempotency_key=key)
        return accepted_response(accepted)


class CodeValidateApi(APIView):
    """Whether a discount code is valid for me and this cart (and order) now: machine-readable
    reasons and the discount it would give. Settlement re-checks everything."""

    @swagger_auto_schema(request_body=CodeCheckSerializer, responses={200: CodeCheckResultSerializer})
    def post(self, request):
        serializer = CodeCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(discount_code_check(user_id=request.user.id, code=data["code"],
                                            cart=cart_of(request.user, data),
                                            order_reference=data.get("order_reference")))


def cart_of(user, data: dict) -> Cart:
    """The cart as given; its currency defaults to the customer's account currency."""
    return Cart(cart_value=data["cart_value"], delivery_charge=data["delivery_charge"],
                currency=data.get("currency") or account_currency(user_id=user.id))


class DiscountUsageApi(generics.ListAPIView):
    """My redemptions; staff may ask for any customer's (`?customer=`)."""

    serializer_class = RedemptionSerializer

    @swagger_auto_schema(query_serializer=UsageFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = UsageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        user_id = self.request.user.id
        if self.request.user.is_staff:
            user_id = data.get("customer")
        return redemption_list(user_id=user_id, campaign_id=data.get("campaign"), day=data.get("date"))
