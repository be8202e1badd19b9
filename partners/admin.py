from django.contrib import admin, messages

from partners.models import CallbackAttempt, CallbackDelivery, Partner, PartnerActivation
from partners.services import callback_redeliver, partner_create, partner_credentials_rotate


def _show_secret_once(request, credentials) -> None:
    messages.warning(request, f"Credentials of {credentials.partner.name}: key id {credentials.key_id}, "
                              f"secret {credentials.secret} — copy it now, it is not shown again.")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "key_id", "is_active", "callback_url", "throttle_rate", "credentials_rotated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_id"]
    readonly_fields = ["key_id", "credentials_rotated_at", "created_at"]
    fields = ["name", "is_active", "callback_url", "throttle_rate", "key_id", "credentials_rotated_at", "created_at"]
    actions = ["rotate_credentials"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        credentials = partner_create(name=obj.name, callback_url=obj.callback_url, throttle_rate=obj.throttle_rate)
        if not obj.is_active:
            credentials.partner.is_active = False
            credentials.partner.save(update_fields=["is_active"])
        obj.pk = credentials.partner.pk
        _show_secret_once(request, credentials)

    @admin.action(description="Rotate credentials (shows the new secret once)")
    def rotate_credentials(self, request, queryset):
        for partner in queryset:
            _show_secret_once(request, partner_credentials_rotate(partner=partner))


@admin.register(PartnerActivation)
class PartnerActivationAdmin(admin.ModelAdmin):
    list_display = ["reference", "partner", "transaction", "customer_identifier", "offer", "created_at"]
    list_filter = ["partner"]
    search_fields = ["reference", "customer_identifier", "=transaction__id"]
    readonly_fields = [f.name for f in PartnerActivation._meta.fields]
    list_select_related = ["partner", "transaction", "offer"]

    def has_add_permission(self, request):
        return False


class CallbackAttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "partner", "event_type", "status", "attempts_count", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event_type", "partner"]
    search_fields = ["=transaction__id", "url"]
    readonly_fields = [f.name for f in CallbackDelivery._meta.fields]
    inlines = [CallbackAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Redeliver the event (same event id)")
    def redeliver(self, request, queryset):
        for delivery in queryset:
            callback_redeliver(delivery=delivery)
        messages.success(request, f"{queryset.count()} callback(s) queued for redelivery.")
