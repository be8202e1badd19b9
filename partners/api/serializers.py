from rest_framework import serializers

from activation.models import Transaction
from kernel.api import StrictSerializer
from offers.models import Offer
from offers.selectors import offer_quote
from partners.models import REFERENCE_PATTERN
from partners.services import CallbackUrlRefused, callback_url_check


class PartnerActivationRequestSerializer(StrictSerializer):
    reference = serializers.RegexField(REFERENCE_PATTERN, max_length=64,
                                       error_messages={"invalid": "1 to 64 characters: letters, digits, . _ : -"})
    # Whether it names one of the partner's linked customers is decided by the service.
    customer = serializers.CharField(max_length=254, help_text="The email address or phone number of a customer "
                                                               "linked to the partner.")
    offer_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, source="offer")
    callback_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    def validate_offer_id(self, value: int) -> Offer:
        offer = offer_quote(value)
        if offer is None:
            raise serializers.ValidationError("Unknown offer.", code="unknown_offer")
        return offer

    def validate_callback_url(self, value: str) -> str:
        if value:
            try:
                callback_url_check(url=value)
            except CallbackUrlRefused as exc:
                raise serializers.ValidationError(str(exc), code="callback_url_refused") from exc
        return value


class PartnerActivationAcceptedSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    reference = serializers.CharField()
    status = serializers.CharField()


class PartnerOfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = ["id", "name", "price", "currency", "validity_days"]


class PartnerValidationSerializer(serializers.Serializer):
    reference = serializers.CharField()
    transaction_id = serializers.UUIDField(source="transaction.id")
    status = serializers.ChoiceField(source="transaction.status", choices=Transaction.Status.choices)
    is_valid = serializers.BooleanField()
    offer = PartnerOfferSerializer()
    customer = serializers.CharField(source="customer_identifier")
    amount = serializers.DecimalField(source="transaction.amount", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="transaction.currency")
    created_at = serializers.DateTimeField(source="transaction.created_at")
    settled_at = serializers.DateTimeField(source="transaction.settled_at", allow_null=True,
                                           help_text="Null until the transaction is settled.")
    failure_code = serializers.CharField(source="transaction.failure_code", allow_blank=True,
                                         help_text="Empty unless the transaction failed.")
