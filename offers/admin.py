"""Operator screens of offers. Counters and money (spent, uses, claimed, reservations,
redemptions, subscriptions) are read-only; campaigns, code pools and flash promos are
edited through their services (kernel.admin.ServiceAdminMixin), which lock the row and
write only what the operator changed."""
from django.contrib import admin

from kernel.admin import HistoryAdmin, ReadOnlyAdminMixin, ServiceAdminMixin, TimesWithSecondsMixin, admin_action_each
from offers.campaigns.services import campaign_create, campaign_delete, campaign_status_set, campaign_update
from offers.codes.models import Brand, CodePool, DiscountCode
from offers.codes.services import code_pool_update
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation, Product, Store
from offers.flash.services import (catalogue_row_delete, flash_promo_create, flash_promo_delete, flash_promo_update,
                                   product_create, product_update)
from offers.models import Campaign, CampaignRedemption, Offer, Subscription


@admin.register(Offer)
class OfferAdmin(TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "name", "category", "price", "currency", "validity_days", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "user", "offer", "status", "started_at", "expires_at", "auto_renew"]
    list_filter = ["status", "auto_renew"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "offer"]


@admin.register(Campaign)
class CampaignAdmin(ServiceAdminMixin, HistoryAdmin):
    list_display = ["id", "name", "target", "kind", "value", "status", "starts_on", "ends_on", "total_budget",
                    "spent_amount", "uses_count"]
    list_filter = ["status", "target", "kind", "is_stackable", "is_targeted"]
    search_fields = ["name"]
    readonly_fields = ["spent_amount", "uses_count"]  # changed only by settlement
    filter_horizontal = ["target_segments"]
    raw_id_fields = ["target_customers"]
    actions = ["pause_selected"]

    def service_create(self, request, fields, m2m):
        return campaign_create(**fields, **m2m)

    def service_update(self, request, obj, fields, m2m):
        return campaign_update(campaign=obj, **fields, **m2m)

    def service_delete(self, obj):
        campaign_delete(campaign=obj)

    @admin.action(permissions=["change"], description="Pause campaign")
    def pause_selected(self, request, queryset):
        admin_action_each(self, request, queryset,
                          lambda campaign: campaign_status_set(campaign=campaign, status=Campaign.Status.PAUSED),
                          done="Paused")


@admin.register(CampaignRedemption)
class CampaignRedemptionAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "campaign", "user", "amount", "local_day", "created_at", "reversed_at"]
    list_filter = ["local_day"]
    search_fields = ["user__username", "=transaction__id", "order_reference"]
    list_select_related = ["campaign", "user"]

# --- code pools ---------------------------------------------------------------------------------


@admin.register(Brand)
class BrandAdmin(HistoryAdmin):
    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["staff"]


@admin.register(CodePool)
class CodePoolAdmin(ServiceAdminMixin, HistoryAdmin):
    """Pools are created through the API (which generates their codes); here their
    descriptive fields are edited through code_pool_update. Never added, never deleted."""

    list_display = ["id", "brand", "name", "total_count", "claimed_count", "valid_from", "valid_until", "created_at"]
    list_filter = ["brand"]
    search_fields = ["name", "brand__name"]
    readonly_fields = ["total_count", "claimed_count", "generated_count", "status", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def service_update(self, request, obj, fields, m2m):
        return code_pool_update(pool=obj, **fields, **m2m)


@admin.register(DiscountCode)
class DiscountCodeAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "code", "pool", "claimed_by", "claimed_at"]
    search_fields = ["code", "claimed_by__username", "claimed_by__email"]
    list_filter = ["pool"]
    list_select_related = ["pool", "claimed_by"]


# --- stores, products, flash promos -------------------------------------------------------------

@admin.register(Store)
class StoreAdmin(TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "name", "address", "latitude", "longitude"]
    search_fields = ["name", "address"]


@admin.register(Product)
class ProductAdmin(ServiceAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "name", "store", "regular_price", "currency"]
    search_fields = ["name", "store__name"]
    raw_id_fields = ["store"]

    def service_create(self, request, fields, m2m):
        return product_create(**fields)

    def service_update(self, request, obj, fields, m2m):
        return product_update(product=obj, **fields)

    def service_delete(self, obj):
        catalogue_row_delete(instance=obj)


@admin.register(FlashPromo)
class FlashPromoAdmin(ServiceAdminMixin, HistoryAdmin):
    list_display = ["id", "product", "promo_price", "starts_at", "ends_at", "radius_km", "quantity", "hold_seconds",
                    "status", "start_notified_at"]
    list_filter = ["status"]
    raw_id_fields = ["product"]
    filter_horizontal = ["segments"]
    readonly_fields = ["start_notified_at"]
    actions = ["cancel_selected"]

    def service_create(self, request, fields, m2m):
        return flash_promo_create(**fields, **m2m)

    def service_update(self, request, obj, fields, m2m):
        return flash_promo_update(promo=obj, **fields, **m2m)

    def service_delete(self, obj):
        flash_promo_delete(promo=obj)

    @admin.action(permissions=["change"], description="Cancel promo")
    def cancel_selected(self, request, queryset):
        admin_action_each(self, request, queryset,
                          lambda promo: flash_promo_update(promo=promo, status=FlashPromo.Status.CANCELLED),
                          done="Cancelled")


@admin.register(FlashReservation)
class FlashReservationAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "promo", "user", "status", "expires_at", "completed_at"]
    list_filter = ["status"]
    list_select_related = ["promo", "user"]


@admin.register(FlashPromoNotice)
class FlashPromoNoticeAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "promo", "user", "created_at"]
    list_select_related = ["promo", "user"]
