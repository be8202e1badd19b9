from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "channel", "kind", "status", "attempts", "created_at", "sent_at", "read_at")
    list_filter = ("channel", "status", "kind")
    search_fields = ("user__username", "user__email", "dedupe_key", "subject")
    readonly_fields = ("dedupe_key", "created_at", "sent_at", "attempts", "last_error", "data")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
