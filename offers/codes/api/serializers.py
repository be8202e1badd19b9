from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from kernel.api import StrictSerializer
from offers.codes.models import Brand, CodePool, DiscountCode
from offers.codes.selectors import brand_get
from offers.codes.services import MAX_POOL_SIZE, code_grant_customer_get
from offers.merchants import brands_managed_by


class CodePoolCreateSerializer(StrictSerializer):
    """validated_data: `brand` (the Brand `brand_id` names, one the caller manages: 403 otherwise)
    and the pool's fields."""

    brand_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, source="brand")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    total_count = serializers.IntegerField(min_value=1, max_value=MAX_POOL_SIZE)
    valid_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_brand_id(self, value: int) -> Brand:
        brand = brand_get(brand_id=value)
        if brand is None:
            raise serializers.ValidationError("Unknown brand.", code="unknown_brand")
        if not brands_managed_by(user=self.context["request"].user).filter(pk=brand.pk).exists():
            raise PermissionDenied("You are not a staff member of this brand.")
        return brand

    def validate(self, attrs):
        if attrs.get("valid_from") and attrs.get("valid_until") and attrs["valid_until"] <= attrs["valid_from"]:
            raise serializers.ValidationError({"valid_until": ["Must be after valid_from."]})
        return attrs


class CodePoolSerializer(serializers.ModelSerializer):
    """`status` generating/ready; `generated_count` of `total_count` codes exist so far."""

    brand_id = serializers.IntegerField(read_only=True)
    brand = serializers.CharField(source="brand.name", read_only=True)
    remaining_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = CodePool
        fields = ["id", "brand_id", "brand", "name", "description", "status", "total_count", "generated_count",
                  "claimed_count", "remaining_count", "valid_from", "valid_until", "created_at"]


class CodePoolOpenSerializer(serializers.ModelSerializer):
    """A pool a customer may claim from; `my_code` is the code they already hold (or null)."""

    brand = serializers.CharField(source="brand.name", read_only=True)
    remaining_count = serializers.IntegerField(read_only=True)
    my_code = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = CodePool
        fields = ["id", "brand", "name", "description", "remaining_count", "valid_from", "valid_until", "my_code"]


class CodeGrantSerializer(StrictSerializer):
    """`customer`: a user id or an email address."""

    customer = serializers.CharField(max_length=254)

    def validate_customer(self, value: str):
        customer = code_grant_customer_get(identifier=value)
        if customer is None:
            raise serializers.ValidationError("Unknown customer.", code="unknown_customer")
        return customer


class CodeClaimRequestSerializer(StrictSerializer):
    """No fields: the pool is in the URL. Present so unknown fields are refused."""


class DiscountCodeSerializer(serializers.ModelSerializer):
    pool_id = serializers.IntegerField(read_only=True)
    pool = serializers.CharField(source="pool.name", read_only=True)
    brand = serializers.CharField(source="pool.brand.name", read_only=True)
    valid_until = serializers.DateTimeField(source="pool.valid_until", read_only=True, allow_null=True,
                                            help_text="Null: the code does not expire.")

    class Meta:
        model = DiscountCode
        fields = ["code", "pool_id", "pool", "brand", "claimed_at", "valid_until"]
