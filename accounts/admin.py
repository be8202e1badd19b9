from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction as db_transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User
from accounts.money import MAX_AMOUNT
from accounts.services import account_adjust
from config.admin import ReadOnlyAdminMixin
from config.errors import ApiError


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


class BalanceAdjustForm(forms.Form):
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT,
                                help_text="Signed: a credit is positive, a debit negative.")
    reason = forms.CharField(max_length=150, help_text="Why; it is written to the ledger row and the history.")

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("The amount must not be zero.")
        return self.cleaned_data["amount"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a balance moves only through `account_adjust` (the "Adjust balance" page),
    which locks the account, writes an `adjustment` ledger row and is logged."""

    list_display = ["user", "balance", "currency", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]

    def has_adjust_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_urls(self):
        adjust = path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_balance_view),
                      name=f"{self.opts.app_label}_{self.opts.model_name}_adjust")
        return [adjust, *super().get_urls()]

    def render_change_form(self, request, context, *args, **kwargs):
        context["has_adjust_permission"] = self.has_adjust_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    def adjust_balance_view(self, request, object_id):
        account = self.get_object(request, object_id)
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        form = BalanceAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            try:
                with db_transaction.atomic():
                    entry = account_adjust(user_id=account.user_id, amount=amount, reason=reason,
                                           operator_id=request.user.pk)
                    self.log_change(request, account, f"Balance adjusted by {entry.amount} {account.currency} "
                                                      f"(ledger entry {entry.pk}): {reason}")
            except ApiError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Balance adjusted by {entry.amount} {account.currency}; "
                                           f"new balance {entry.balance_after}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                                                    args=[account.pk], current_app=self.admin_site.name))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": account,
                   "title": f"Adjust the balance of {account.user}", "form": form,
                   "media": self.media + form.media}
        return TemplateResponse(request, "admin/accounts/account/adjust_balance.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "account", "amount", "balance_after", "reason", "transaction_id", "description",
                    "created_at"]
    list_filter = ["reason"]
    search_fields = ["=transaction_id", "account__user__username"]
    list_select_related = ["account__user"]
