from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response, accepting_schema, accepting_view, idempotency_key_from
from activation.services import Accepted
from kernel.api import ErrorSerializer
from offers.api.serializers import (ActivationRequestSerializer, ExpiringFilterSerializer, OfferFilterSerializer,
                                    OfferSerializer, RenewalRequestSerializer, SubscriptionCancelSerializer,
                                    SubscriptionSerializer, SubscriptionUpdateSerializer)
from offers.selectors import offer_list, subscription_list_expiring, subscription_list_for_user
from offers.services import offer_activation_request, offer_renewal_request
from offers.subscriptions import subscription_auto_renew_set, subscription_cancel


class OfferListApi(generics.ListAPIView):
    serializer_class = OfferSerializer

    @swagger_auto_schema(query_serializer=OfferFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = OfferFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return offer_list(category=filters.validated_data.get("category"))


class OfferDetailApi(generics.RetrieveAPIView):
    serializer_class = OfferSerializer

    def get_queryset(self):
        return offer_list()


class OfferExpiringApi(generics.ListAPIView):
    """My active subscriptions expiring within `days` (default 7)."""

    serializer_class = SubscriptionSerializer

    @swagger_auto_schema(query_serializer=ExpiringFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = ExpiringFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return subscription_list_expiring(user_id=self.request.user.id, days=filters.validated_data["days"])


class SubscriptionListApi(generics.ListAPIView):
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return subscription_list_for_user(user_id=self.request.user.id)


class OfferActivateApi(APIView):
    """Accepts an activation: 202 with a transaction id; a worker settles it. Served by
    `offer_activate_view` (activation.api.accept.accepting_view)."""

    throttle_scope = "transactions"

    @accepting_schema(request_body=ActivationRequestSerializer)
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = ActivationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return accepted_response(_activation_accept(request.user, serializer.validated_data, key))


def _activation_accept(user, data: dict, key: str | None) -> Accepted:
    return offer_activation_request(user_id=user.id, offer=data["offer"], idempotency_key=key,
                                    campaign_id=data.get("campaign_id"))


offer_activate_view = accepting_view(OfferActivateApi, serializer_class=ActivationRequestSerializer,
                                     accept=_activation_accept)


class OfferRenewApi(APIView):
    """Accepts a renewal of one of my subscriptions through the same pipeline."""

    throttle_scope = "transactions"

    @accepting_schema(request_body=RenewalRequestSerializer)
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = RenewalRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        accepted = offer_renewal_request(user_id=request.user.id,
                                         subscription=serializer.validated_data["subscription"], idempotency_key=key)
        return accepted_response(accepted)


def _my_subscription_id(request, pk: int) -> int:
    """404 before anything is read from the body: another customer's subscription looks
    exactly like one that does not exist."""
    if not subscription_list_for_user(user_id=request.user.id).filter(pk=pk).exists():
        raise NotFound("No such subscription.")
    return pk


class SubscriptionDetailApi(APIView):
    """One of my subscriptions; PATCH turns auto-renewal on or off."""

    @swagger_auto_schema(responses={200: SubscriptionSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        subscription = subscription_list_for_user(user_id=request.user.id).filter(pk=pk).first()
        if subscription is None:
            raise NotFound("No such subscription.")
        return Response(SubscriptionSerializer(subscription).data)

    @swagger_auto_schema(request_body=SubscriptionUpdateSerializer,
                         responses={200: SubscriptionSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                                    409: ErrorSerializer},
                         operation_description="`auto_renew: true` on a cancelled subscription is 409 "
                                               "`subscription_not_renewable`.")
    def patch(self, request, pk: int):
        _my_subscription_id(request, pk)
        serializer = SubscriptionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = subscription_auto_renew_set(user_id=request.user.id, subscription_id=pk,
                                                   auto_renew=serializer.validated_data["auto_renew"])
        return Response(SubscriptionSerializer(subscription).data)


class SubscriptionCancelApi(APIView):
    """Cancels one of my subscriptions at once, without a refund; it can no longer be
    renewed. Cancelling again answers the same."""

    @swagger_auto_schema(request_body=SubscriptionCancelSerializer,
                         responses={200: SubscriptionSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def post(self, request, pk: int):
        _my_subscription_id(request, pk)
        SubscriptionCancelSerializer(data=request.data).is_valid(raise_exception=True)
        subscription = subscription_cancel(user_id=request.user.id, subscription_id=pk)
        return Response(SubscriptionSerializer(subscription).data)
