from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User


class ProfileInline(admin.StackedInline):
    model = CustomerProfile
    can_delete = False


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "is_staff", "is_active", "date_joined"]

    def get_inline_instances(self, request, obj=None):
        # On "add user" the post_save receiver creates the profile; an inline would insert a second one.
        return super().get_inline_instances(request, obj) if obj is not None else []


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["user", "balance", "currency", "updated_at"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["balance"]  # money moves only through the ledger services


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "amount", "balance_after", "reason", "transaction_id", "created_at"]
    list_filter = ["reason"]
    search_fields = ["=transaction_id", "account__user__username"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
