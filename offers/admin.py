from django.contrib import admin

from offers.models import Offer, Subscription


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
