from django.contrib import admin

from activation.models import IdempotencyKey, Transaction


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "user", "status", "amount", "currency", "failure_code", "created_at", "settled_at"]
    list_filter = ["status", "kind", "failure_code"]
    search_fields = ["=id", "user__username", "user__email", "idempotency_key"]
    readonly_fields = [f.name for f in Transaction._meta.fields]
    date_hierarchy = "created_at"
    list_select_related = ["user"]

    def get_search_fields(self, request):
        # "=id" on a UUID column fails for input that is not a UUID; leave it out then.
        import uuid

        try:
            uuid.UUID(request.GET.get("q", "").strip())
        except ValueError:
            return ["user__username", "user__email", "idempotency_key"]
        return ["=id", "user__username", "user__email", "idempotency_key"]

    def has_add_permission(self, request):
        return False  # transactions come from the API only

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["scope", "key", "transaction", "created_at"]
    search_fields = ["scope", "key", "=transaction__id"]
    readonly_fields = ["scope", "key", "request_fingerprint", "transaction", "created_at"]
