from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics
from rest_framework.views import APIView

from activation.api.accept import accepted_response, idempotency_key_from
from config.api import TransactionAcceptedSerializer
from offers.api.serializers import (ActivationRequestSerializer, ExpiringFilterSerializer, OfferFilterSerializer,
                                    OfferSerializer, RenewalRequestSerializer, SubscriptionSerializer)
from offers.selectors import offer_list, subscription_list_expiring, subscription_list_for_user
from offers.services import offer_activation_request, offer_renewal_request



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
    """Accepts an activation: 202 with a transaction id; a worker settles it."""

    throttle_scope = "transactions"

    @swagger_auto_schema(request_body=ActivationRequestSerializer, responses={202: TransactionAcceptedSerializer})
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = ActivationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        accepted = offer_activation_request(user_id=request.user.id, offer=serializer.context["offer"],
                                            idempotency_key=key,
                                            campaign_id=serializer.validated_data.get("campaign_id"))
        return accepted_response(accepted)


class OfferRenewApi(APIView):
    """Accepts a renewal of one of my subscriptions through the same pipeline."""

    throttle_scope = "transactions"

    @swagger_auto_schema(request_body=RenewalRequestSerializer, responses={202: TransactionAcceptedSerializer})
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = RenewalRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        accepted = offer_renewal_request(user_id=request.user.id, subscription=serializer.context["subscription"],
                                         idempotency_key=key)
        return accepted_response(accepted)
