from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response, accepting_schema, accepting_view, idempotency_key_from
from activation.services import Accepted
from kernel.api import ErrorSerializer
from offers.campaigns.api.serializers import (AvailableResponseSerializer, CampaignFilterSerializer,
                                              CampaignSerializer, CampaignStatusSerializer, CartSerializer,
                                              CodeCheckResultSerializer, CodeCheckSerializer, ExplainSerializer, RedeemSerializer, RedemptionSerializer,
                                              UsageFilterSerializer)
from accounts.money import money_whole_require
from accounts.selectors import account_currency
from offers.campaigns.rules import Cart
from offers.campaigns.selectors import campaign_list, discount_code_check, discounts_available
from offers.campaigns.services import (campaign_create, campaign_delete, campaign_status_set, campaign_update,
                                       discount_redemption_request)
from offers.merchants import IsMerchant, managed_by, managed_get, redemption_list_visible


MERCHANT_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
BUDGET_BELOW_SPENT = openapi.Response("`budget_below_spent`: the budget cannot go below what has been spent; "
                                      "`currency_in_use`: a redeemed campaign's currency cannot change.",
                                      ErrorSerializer)


def _campaign_get(request, pk: int):
    """A campaign the user manages (platform staff: any; a brand member: their brands'), else 404."""
    return managed_get(campaign_list(), user=request.user, pk=pk, message="No such campaign.")


class CampaignListCreateApi(generics.ListAPIView):
    """Platform staff: every campaign; a brand member: their brands' (filters: status, target,
    active_now). POST creates one: a brand member names one of their brands (`brand`)."""

    serializer_class = CampaignSerializer
    permission_classes = [IsMerchant]

    @swagger_auto_schema(query_serializer=CampaignFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = CampaignFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return managed_by(campaign_list(**filters.validated_data), user=self.request.user)

    @swagger_auto_schema(request_body=CampaignSerializer, responses={201: CampaignSerializer, **MERCHANT_ERRORS})
    def post(self, request):
        serializer = CampaignSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(**serializer.validated_data)
        return Response(CampaignSerializer(_campaign_get(request, campaign.pk)).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    """A campaign I manage (another brand's: 404). DELETE: 409 once it has redemptions."""

    permission_classes = [IsMerchant]

    @swagger_auto_schema(responses={200: CampaignSerializer, **MERCHANT_ERRORS})
    def get(self, request, pk: int):
        return Response(CampaignSerializer(_campaign_get(request, pk)).data)

    @swagger_auto_schema(request_body=CampaignSerializer,
                         responses={200: CampaignSerializer, 409: BUDGET_BELOW_SPENT, **MERCHANT_ERRORS})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @swagger_auto_schema(request_body=CampaignSerializer,
                         responses={200: CampaignSerializer, 409: BUDGET_BELOW_SPENT, **MERCHANT_ERRORS})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        campaign = _campaign_get(request, pk)
        serializer = CampaignSerializer(campaign, data=request.data, partial=partial, context={"request": request})
        serializer.is_valid(raise_exception=True)
        campaign_update(campaign=campaign, **serializer.validated_data)
        return Response(CampaignSerializer(_campaign_get(request, pk)).data)

    @swagger_auto_schema(responses={
        204: "Deleted", **MERCHANT_ERRORS,
        409: openapi.Response("`campaign_has_redemptions` or `campaign_in_use` (a code pool carries it): end it "
                              "instead.", ErrorSerializer)})
    def delete(self, request, pk: int):
        campaign_delete(campaign=_campaign_get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignStatusApi(APIView):
    """Activates, pauses, ends a campaign I manage (another brand's: 404)."""

    permission_classes = [IsMerchant]

    @swagger_auto_schema(request_body=CampaignStatusSerializer, responses={200: CampaignSerializer, **MERCHANT_ERRORS})
    def patch(self, request, pk: int):
        campaign = _campaign_get(request, pk)
        serializer = CampaignStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign_status_set(campaign=campaign, status=serializer.validated_data["status"])
        return Response(CampaignSerializer(_campaign_get(request, pk)).data)


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

    @accepting_schema(request_body=RedeemSerializer)
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = RedeemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return accepted_response(_redemption_accept(request.user, serializer.validated_data, key))


def _redemption_accept(user, data: dict, key: str | None) -> Accepted:
    return discount_redemption_request(user_id=user.id, campaign_ids=data["campaign_ids"], cart=cart_of(user, data),
                                       code=data.get("code"), order_reference=data["order_reference"],
                                       idempotency_key=key)


discount_redeem_view = accepting_view(DiscountRedeemApi, serializer_class=RedeemSerializer, accept=_redemption_accept)


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
    currency = data.get("currency") or account_currency(user_id=user.id)
    money_whole_require(currency, cart_value=data["cart_value"], delivery_charge=data["delivery_charge"])
    return Cart(cart_value=data["cart_value"], delivery_charge=data["delivery_charge"], currency=currency)


class DiscountUsageApi(generics.ListAPIView):
    """My redemptions; platform staff: anyone's (`?customer=`); a brand member with
    `?campaign=` of a campaign they manage: every customer's redemptions of it."""

    serializer_class = RedemptionSerializer

    @swagger_auto_schema(query_serializer=UsageFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = UsageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return redemption_list_visible(user=self.request.user, campaign_id=data.get("campaign"),
                                       customer_id=data.get("customer"), day=data.get("date"))
