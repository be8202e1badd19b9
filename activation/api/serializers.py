from rest_framework import serializers

from activation.models import Transaction


class TransactionSerializer(serializers.ModelSerializer):
    transaction_id = serializers.UUIDField(source="id", read_only=True)
    failure_code = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField(allow_null=True)
    reverses = serializers.UUIDField(source="reverses_id", allow_null=True)

    class Meta:
        model = Transaction
        fields = ["transaction_id", "kind", "status", "amount", "currency", "payload", "failure_code",
                  "failure_message", "result", "reverses", "created_at", "settled_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["failure_code"] = data["failure_code"] or None
        data["failure_message"] = data["failure_message"] or None
        return data


class TransactionStatusSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=Transaction.Status.choices)
    failure_code = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField(allow_null=True)
    result = serializers.DictField()
    amount = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)


class TransactionFilterSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=40, required=False)
    status = serializers.ChoiceField(choices=Transaction.Status.choices, required=False)


class StatusWaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(min_value=0, max_value=30, required=False, default=0)
