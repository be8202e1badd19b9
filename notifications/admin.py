from django.contrib import admin

from kernel.admin import ReadOnlyAdminMixin, TimesWithSecondsMixin
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    """Written and delivered by notifications.services only (dedupe, delivery claim, retries)."""

    list_display = ("id", "user", "channel", "kind", "status", "attempts", "created_at", "sent_at", "read_at")
    list_filter = ("channel", "status", "kind")
    search_fields = ("user__username", "user__email", "dedupe_key", "subject", "request_id")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
