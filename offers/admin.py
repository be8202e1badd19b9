from django.contrib import admin

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
