from rest_framework import serializers

from activation.models import Transaction


RESULT_HELP = ("What the settlement did, by kind (ids, amounts as strings, dates, flags): a JSON object whose "
               "values may be strings, numbers, booleans, lists or null.")


class TransactionSerializer(serializers.ModelSerializer):
    """`amount` and `currency` are null for a transaction that moves no money (a code claim,
    a hold); `failure_code` and `failure_message` are null unless it failed."""

    transaction_id = serializers.UUIDField(source="id", read_only=True)
    currency = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField(allow_null=True)
    result = serializers.JSONField(help_text=RESULT_HELP)
    reverses = serializers.UUIDField(source="reverses_id", allow_null=True)

    class Meta:
        model = Transaction
        fields = ["transaction_id", "kind", "status", "amount", "currency", "payload", "failure_code",
                  "failure_message", "result", "reverses", "created_at", "settled_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in ("currency", "failure_code", "failure_message"):  # stored blank: none
            data[name] = data[name] or None
        return data


class TransactionStatusSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=Transaction.Status.choices)
    failure_code = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField(allow_null=True)
    result = serializers.JSONField(help_text=RESULT_HELP)
    amount = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        # Not "TransactionStatus": generators name Transaction's `status` enum so.
        ref_name = "TransactionState"


class TransactionFilterSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=40, required=False)
    status = serializers.ChoiceField(choices=Transaction.Status.choices, required=False)


class StatusWaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(min_value=0, max_value=30, required=False, default=0)
