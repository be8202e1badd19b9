from decimal import Decimal

from rest_framework import serializers

from accounts.models import Segment
from kernel.api import StrictModelSerializer, StrictSerializer
from offers.codes.models import Brand
from offers.flash.models import FlashPromo, FlashReservation, Product, Store
from offers.flash.selectors import flash_promo_get
from offers.merchants import ManagedRelatedField, merchant_brand_require


class StoreSerializer(StrictModelSerializer):
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=Decimal("-90"),
                                        max_value=Decimal("90"))
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=Decimal("-180"),
                                         max_value=Decimal("180"))
    brand = ManagedRelatedField(queryset=Brand.objects.all(), required=False, allow_null=True,
                                help_text="The brand whose members manage the store, its products and their promos "
                                          "(one of mine); null: the platform's (staff only).")

    class Meta:
        model = Store
        fields = ["id", "name", "address", "latitude", "longitude", "brand", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        merchant_brand_require(user=getattr(self.context.get("request"), "user", None),
                               brand=attrs.get("brand", getattr(self.instance, "brand", None)))
        return attrs


class ProductSerializer(StrictModelSerializer):
    store_id = ManagedRelatedField(source="store", queryset=Store.objects.all(),
                                   help_text="One of my stores: the product is its store's brand's.")
    regular_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    class Meta:
        model = Product
        fields = ["id", "store_id", "name", "regular_price", "currency", "created_at"]
        read_only_fields = ["id", "created_at"]


class FlashPromoSerializer(StrictModelSerializer):
    product_id = ManagedRelatedField(source="product", queryset=Product.objects.all(),
                                     help_text="One of my products: the promo is its store's brand's.")
    segment_ids = serializers.PrimaryKeyRelatedField(source="segments", queryset=Segment.objects.all(), many=True,
                                                     allow_empty=False)
    promo_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    radius_km = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"),
                                         max_value=Decimal("20000"))
    quantity = serializers.IntegerField(min_value=1, max_value=10_000_000)
    hold_seconds = serializers.IntegerField(min_value=5, max_value=3600, default=60)
    max_units_per_customer = serializers.IntegerField(min_value=1, max_value=10_000_000, default=1)
    currency = serializers.CharField(source="product.currency", read_only=True)
    units_left = serializers.IntegerField(read_only=True)
    store = serializers.SerializerMethodField()

    class Meta:
        model = FlashPromo
        fields = ["id", "product_id", "store", "promo_price", "currency", "starts_at", "ends_at", "segment_ids",
                  "radius_km", "quantity", "units_left", "max_units_per_customer", "hold_seconds", "status",
                  "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_store(self, promo) -> dict:
        store = promo.product.store
        return {"id": store.id, "name": store.name, "latitude": str(store.latitude), "longitude": str(store.longitude)}

    def validate(self, attrs):
        instance = self.instance
        starts = attrs.get("starts_at", getattr(instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        product = attrs.get("product", getattr(instance, "product", None))
        price = attrs.get("promo_price", getattr(instance, "promo_price", None))
        if product and price and price >= product.regular_price:
            raise serializers.ValidationError({"promo_price": ["Must be below the product's regular price."]})
        return attrs


class ReservationRequestSerializer(StrictSerializer):
    """validated_data: `promo`, the FlashPromo `promo_id` names."""

    promo_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, source="promo")

    def validate_promo_id(self, value: int) -> FlashPromo:
        promo = flash_promo_get(promo_id=value)
        if promo is None:
            raise serializers.ValidationError("Unknown promotion.", code="unknown_promo")
        return promo


class ReservationCompleteSerializer(StrictSerializer):
    """No fields: the reservation is in the URL."""


class FlashReservationSerializer(serializers.ModelSerializer):
    promo_id = serializers.IntegerField(read_only=True)
    promo_price = serializers.DecimalField(source="promo.promo_price", max_digits=12, decimal_places=2,
                                           read_only=True)
    currency = serializers.CharField(source="promo.product.currency", read_only=True)
    product = serializers.CharField(source="promo.product.name", read_only=True)

    class Meta:
        model = FlashReservation
        fields = ["id", "promo_id", "product", "promo_price", "currency", "status", "expires_at", "completed_at",
                  "purchase_transaction_id", "created_at"]
