from drf_yasg.utils import swagger_auto_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.api.serializers import (PartnerActivationAcceptedSerializer, PartnerActivationRequestSerializer,
                                      PartnerValidationSerializer)
from partners.authentication import PartnerSignatureAuthentication
from partners.permissions import IsPartner
from partners.selectors import partner_activation_get
from partners.services import partner_activation_request
from partners.throttles import PartnerRateThrottle

REFERENCE_NOT_FOUND = "No transaction with this reference."


class PartnerApi(APIView):
    authentication_classes = [PartnerSignatureAuthentication]
    permission_classes = [IsPartner]
    throttle_classes = [PartnerRateThrottle]


class PartnerActivateApi(PartnerApi):
    """Activates an offer for one of the partner's customers: 202; the reference is the idempotency key."""

    @swagger_auto_schema(request_body=PartnerActivationRequestSerializer,
                         responses={202: PartnerActivationAcceptedSerializer})
    def post(self, request):
        serializer = PartnerActivationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        accepted = partner_activation_request(partner=request.auth, reference=data["reference"],
                                              customer=serializer.context["customer"],
                                              customer_identifier=data["customer"],
                                              offer=serializer.context["offer"], callback_url=data["callback_url"])
        txn = accepted.transaction
        headers = {"Idempotent-Replayed": "true"} if accepted.replayed else {}
        return Response({"transaction_id": str(txn.id), "reference": data["reference"], "status": txn.status},
                        status=status.HTTP_202_ACCEPTED, headers=headers)


class PartnerValidateApi(PartnerApi):
    """The transaction behind one of the partner's own references."""

    @swagger_auto_schema(responses={200: PartnerValidationSerializer})
    def get(self, request, reference: str):
        activation = partner_activation_get(partner=request.auth, reference=reference)
        if activation is None:
            raise NotFound(REFERENCE_NOT_FOUND)
        return Response(PartnerValidationSerializer(activation).data)
