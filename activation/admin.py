import uuid

from django.contrib import admin

from activation.models import IdempotencyKey, Transaction
from activation.services import transaction_reverse
from kernel.admin import ReadOnlyAdminMixin, TimesWithSecondsMixin, admin_action_each


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    """Transactions come from the API and change only through the engine; the one operator
    write is "Reverse transaction" (the same service the API's reversal calls), logged."""

    list_display = ["id", "kind", "user", "status", "amount", "currency", "failure_code", "created_at", "settled_at"]
    list_filter = ["status", "kind", "failure_code"]
    search_fields = ["=id", "user__username", "user__email", "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    actions = ["reverse_selected"]

    def get_search_fields(self, request):
        # "=id" on a UUID column fails for input that is not a UUID; leave it out then.
        try:
            uuid.UUID(request.GET.get("q", "").strip())
        except ValueError:
            return ["user__username", "user__email", "idempotency_key"]
        return ["=id", "user__username", "user__email", "idempotency_key"]

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(permissions=["reverse"], description="Reverse transaction")
    def reverse_selected(self, request, queryset):
        admin_action_each(self, request, queryset.order_by("created_at"),
                          lambda txn: transaction_reverse(transaction_id=txn.pk, requested_by_id=request.user.pk,
                                                          as_staff=True),
                          done="Reversed")


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["scope", "key", "transaction", "retained", "created_at"]
    list_filter = ["retained"]
    search_fields = ["scope", "key", "=transaction__id"]
