from django.contrib import admin

from offers.codes.models import Brand, CodePool, DiscountCode
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation, Product, Store
from offers.models import Campaign, CampaignRedemption, Offer, Subscription


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "category", "price", "currency", "validity_days", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "offer", "status", "started_at", "expires_at", "auto_renew"]
    list_filter = ["status", "auto_renew"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user", "offer", "created_by_transaction"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "target", "kind", "value", "status", "starts_on", "ends_on", "total_budget",
                    "spent_amount", "uses_count"]
    list_filter = ["status", "target", "kind", "is_stackable", "is_targeted"]
    search_fields = ["name"]
    readonly_fields = ["spent_amount", "uses_count"]  # changed only by settlement
    filter_horizontal = ["target_segments"]
    raw_id_fields = ["target_customers"]


@admin.register(CampaignRedemption)
class CampaignRedemptionAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "user", "amount", "local_day", "created_at", "reversed_at"]
    list_filter = ["local_day"]
    search_fields = ["user__username", "=transaction__id", "order_reference"]
    raw_id_fields = ["campaign", "user", "transaction"]

# --- code pools ---------------------------------------------------------------------------------


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["staff"]


@admin.register(CodePool)
class CodePoolAdmin(admin.ModelAdmin):
    """Pools are created through the API (which generates their codes); here they are read
    and edited, never created without codes."""

    list_display = ["id", "brand", "name", "total_count", "claimed_count", "valid_from", "valid_until", "created_at"]
    list_filter = ["brand"]
    search_fields = ["name", "brand__name"]
    readonly_fields = ["total_count", "claimed_count", "created_by"]

    def has_add_permission(self, request):
        return False


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin):
    list_display = ["id", "code", "pool", "claimed_by", "claimed_at"]
    search_fields = ["code", "claimed_by__username", "claimed_by__email"]
    list_filter = ["pool"]
    raw_id_fields = ["pool", "claimed_by"]
    readonly_fields = ["code", "pool", "claimed_by", "claimed_at", "claim_transaction_id"]

    def has_add_permission(self, request):
        return False


# --- stores, products, flash promos -------------------------------------------------------------

@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "address", "latitude", "longitude"]
    search_fields = ["name", "address"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "store", "regular_price", "currency"]
    search_fields = ["name", "store__name"]
    raw_id_fields = ["store"]


@admin.register(FlashPromo)
class FlashPromoAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "promo_price", "starts_at", "ends_at", "radius_km", "quantity", "hold_seconds",
                    "status", "start_notified_at"]
    list_filter = ["status"]
    raw_id_fields = ["product"]
    filter_horizontal = ["segments"]
    readonly_fields = ["start_notified_at"]


@admin.register(FlashReservation)
class FlashReservationAdmin(admin.ModelAdmin):
    list_display = ["id", "promo", "user", "status", "expires_at", "completed_at"]
    list_filter = ["status"]
    raw_id_fields = ["promo", "user"]
    readonly_fields = ["promo", "user", "status", "expires_at", "completed_at", "transaction_id"]


@admin.register(FlashPromoNotice)
class FlashPromoNoticeAdmin(admin.ModelAdmin):
    list_display = ["id", "promo", "user", "created_at"]
    raw_id_fields = ["promo", "user"]
