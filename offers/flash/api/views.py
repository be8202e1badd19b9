from django.utils import timezone
from django.utils.decorators import method_decorator
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response, accepting_schema, accepting_view, idempotency_key_from
from activation.models import Transaction
from activation.services import Accepted
from kernel.api import ErrorSerializer
from kernel.errors import ConflictError
from offers.flash import selectors, services
from offers.flash.api.serializers import (FlashPromoSerializer, FlashReservationSerializer, ProductSerializer,
                                          ReservationCompleteSerializer, ReservationRequestSerializer,
                                          StoreSerializer)
from offers.merchants import IsMerchant, managed_by


class _MerchantCrud:
    """List/create/retrieve/update/delete whose writes go through services, for platform staff
    (every row) and brand members (their brands' rows; another brand's row is a 404): every
    read passes through offers.merchants.managed_by. A product is its store's brand's, a
    promo its product's store's brand's."""

    permission_classes = [IsMerchant]

    def get_queryset(self):
        return managed_by(self.rows(), user=self.request.user)

    def rows(self):
        raise NotImplementedError


class StoreListCreateApi(_MerchantCrud, generics.ListCreateAPIView):
    """Stores I manage; POST: a brand member names one of their brands (`brand`)."""

    serializer_class = StoreSerializer

    def rows(self):
        return selectors.store_list()

    def perform_create(self, serializer):
        serializer.instance = services.store_create(**serializer.validated_data)


IN_USE = swagger_auto_schema(responses={
    204: "Deleted", 409: openapi.Response("`in_use`: other rows still refer to it.", ErrorSerializer)})


@method_decorator(name="delete", decorator=IN_USE)
class StoreDetailApi(_MerchantCrud, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = StoreSerializer

    def rows(self):
        return selectors.store_list()

    def perform_update(self, serializer):
        serializer.instance = services.store_update(store=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.catalogue_row_delete(instance=instance)


class ProductListCreateApi(_MerchantCrud, generics.ListCreateAPIView):
    """Products of the stores I manage; POST: in one of those stores (`store_id`)."""

    serializer_class = ProductSerializer

    def rows(self):
        return selectors.product_list()

    def perform_create(self, serializer):
        serializer.instance = services.product_create(**serializer.validated_data)


CURRENCY_IN_USE = openapi.Response("`currency_in_use`: it has flash promos, priced in its currency.", ErrorSerializer)


@method_decorator(name="delete", decorator=IN_USE)
@method_decorator(name="put", decorator=swagger_auto_schema(responses={409: CURRENCY_IN_USE}))
@method_decorator(name="patch", decorator=swagger_auto_schema(responses={409: CURRENCY_IN_USE}))
class ProductDetailApi(_MerchantCrud, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ProductSerializer

    def rows(self):
        return selectors.product_list()

    def perform_update(self, serializer):
        serializer.instance = services.product_update(product=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.catalogue_row_delete(instance=instance)


class FlashPromoListCreateApi(_MerchantCrud, generics.ListCreateAPIView):
    """Promos of the products I manage; POST: of one of those products (`product_id`)."""

    serializer_class = FlashPromoSerializer

    def rows(self):
        return selectors.flash_promo_list(now=timezone.now())

    def perform_create(self, serializer):
        promo = services.flash_promo_create(**serializer.validated_data)
        serializer.instance = selectors.flash_promo_list(now=timezone.now()).get(pk=promo.pk)


QUANTITY_BELOW_TAKEN = openapi.Response("`quantity_below_taken`: units are already held or bought beyond it.",
                                        ErrorSerializer)


@method_decorator(name="delete", decorator=swagger_auto_schema(responses={
    204: "Deleted", 409: openapi.Response("`in_use`: it has reservations; cancel it instead.", ErrorSerializer)}))
@method_decorator(name="put", decorator=swagger_auto_schema(responses={409: QUANTITY_BELOW_TAKEN}))
@method_decorator(name="patch", decorator=swagger_auto_schema(responses={409: QUANTITY_BELOW_TAKEN}))
class FlashPromoDetailApi(_MerchantCrud, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = FlashPromoSerializer

    def rows(self):
        return selectors.flash_promo_list(now=timezone.now())

    def perform_update(self, serializer):
        promo = services.flash_promo_update(promo=serializer.instance, **serializer.validated_data)
        serializer.instance = selectors.flash_promo_list(now=timezone.now()).get(pk=promo.pk)

    def perform_destroy(self, instance):
        services.flash_promo_delete(promo=instance)


class FlashPromoEligibleApi(generics.ListAPIView):
    """Running promos with units left that I may reserve: my segment, within the radius."""

    serializer_class = FlashPromoSerializer

    def get_queryset(self):
        return selectors.flash_promo_list_eligible(user_id=self.request.user.id, now=timezone.now())


class FlashPromoRunningApi(generics.ListAPIView):
    serializer_class = FlashPromoSerializer

    def get_queryset(self):
        return selectors.flash_promo_list_running(now=timezone.now())


class ReservationListCreateApi(generics.ListAPIView):
    """GET: my reservations. POST {promo_id}: 202; settlement holds a unit for hold_seconds."""

    serializer_class = FlashReservationSerializer
    throttle_scope = "transactions"

    def get_queryset(self):
        return selectors.flash_reservation_list_for_user(user_id=self.request.user.id)

    @accepting_schema(request_body=ReservationRequestSerializer)
    def post(self, request):
        key = idempotency_key_from(request)
        serializer = ReservationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return accepted_response(_reservation_accept(request.user, serializer.validated_data, key))


def _reservation_accept(user, data: dict, key: str | None) -> Accepted:
    return services.flash_reservation_request(user_id=user.id, promo=data["promo"], idempotency_key=key)


reservation_list_create_view = accepting_view(ReservationListCreateApi, serializer_class=ReservationRequestSerializer,
                                              accept=_reservation_accept)


class ReservationCompleteApi(APIView):
    """Synchronous: buys the unit already held at the promo price, debited from my balance
    (200); 409 `insufficient_balance` / `currency_mismatch` (the hold stays until it lapses),
    409 `hold_expired` after the expiry, 404 for a reservation that is not mine."""

    @swagger_auto_schema(request_body=ReservationCompleteSerializer,
                         responses={200: FlashReservationSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, pk: int):
        ReservationCompleteSerializer(data=request.data).is_valid(raise_exception=True)
        purchase = services.flash_reservation_complete(user_id=request.user.id, reservation_id=pk)
        if purchase.transaction.status == Transaction.Status.FAILED:
            raise ConflictError(purchase.transaction.failure_message, code=purchase.transaction.failure_code,
                                details={"transaction_id": str(purchase.transaction.id), "reservation_id": pk})
        return Response(FlashReservationSerializer(purchase.reservation).data, status=status.HTTP_200_OK)
