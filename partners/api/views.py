from drf_yasg import openapi
from drf_yasg.utils import no_body, swagger_auto_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from activation.api.accept import accepted_response
from kernel.api import ErrorSerializer
from partners.api.serializers import (PartnerActivationAcceptedSerializer, PartnerActivationRequestSerializer,
                                      PartnerValidationSerializer)
from partners.authentication import PartnerSignatureAuthentication
from partners.permissions import IsPartner
from partners.selectors import partner_activation_get
from partners.services import PartnerCustomerUnknown, partner_activation_request, partner_activation_reverse
from partners.throttles import PartnerRateThrottle

REFERENCE_NOT_FOUND = "No transaction with this reference."


def unknown_customer_error() -> serializers.ValidationError:
    """One 400 for a customer that does not exist and one not linked to the partner."""
    return serializers.ValidationError({"customer": [serializers.ErrorDetail("Unknown customer.",
                                                                             code="unknown_customer")]})


class PartnerApi(APIView):
    authentication_classes = [PartnerSignatureAuthentication]
    permission_classes = [IsPartner]
    throttle_classes = [PartnerRateThrottle]


class PartnerActivateApi(PartnerApi):
    """Activates an offer for one of the partner's linked customers: 202; the reference is the idempotency key."""

    @swagger_auto_schema(
        request_body=PartnerActivationRequestSerializer,
        responses={
            202: PartnerActivationAcceptedSerializer,
            409: openapi.Response("`idempotency_in_progress`: a request with this reference is still being "
                                  "processed.", ErrorSerializer),
            422: openapi.Response("`reference_reused`: this reference was already used with another body.",
                                  ErrorSerializer),
        })
    def post(self, request):
        serializer = PartnerActivationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            accepted = partner_activation_request(partner=request.auth, reference=data["reference"],
                                                  customer_identifier=data["customer"],
                                                  offer=data["offer"],
                                                  callback_url=data["callback_url"])
        except PartnerCustomerUnknown:
            raise unknown_customer_error() from None
        return accepted_response(accepted, with_status_url=False, reference=data["reference"])


class PartnerValidateApi(PartnerApi):
    """The transaction behind one of the partner's own references."""

    @swagger_auto_schema(responses={200: PartnerValidationSerializer})
    def get(self, request, reference: str):
        activation = partner_activation_get(partner=request.auth, reference=reference)
        if activation is None:
            raise NotFound(REFERENCE_NOT_FOUND)
        return Response(PartnerValidationSerializer(activation).data)


class PartnerReverseApi(PartnerApi):
    """Reverses the transaction behind one of the partner's own references: the customer is
    refunded through the ledger and a `transaction.reversed` callback is sent. Reversing an
    already reversed reference answers the same 200 and changes nothing."""

    @swagger_auto_schema(
        request_body=no_body,
        responses={
            200: PartnerValidationSerializer,
            401: openapi.Response("Missing, invalid, expired or replayed signature.", ErrorSerializer),
            403: openapi.Response("The partner is inactive.", ErrorSerializer),
            404: openapi.Response("No transaction with this reference (or it is another partner's).", ErrorSerializer),
            409: openapi.Response("The transaction is not in a reversible state (pending, failed, or its "
                                  "kind cannot be reversed).", ErrorSerializer),
            429: openapi.Response("The partner's rate is exceeded (Retry-After).", ErrorSerializer),
        })
    def post(self, request, reference: str):
        activation = partner_activation_reverse(partner=request.auth, reference=reference)
        if activation is None:
            raise NotFound(REFERENCE_NOT_FOUND)
        return Response(PartnerValidationSerializer(activation).data)
