from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction as db_transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Account, CustomerProfile, LedgerEntry, LocationChange, Segment, User
from accounts.money import MAX_AMOUNT
from accounts.services import account_adjust, profile_update, segment_create, segment_delete, segment_update
from kernel.admin import HistoryAdmin, ReadOnlyAdminMixin, ServiceAdminMixin, TimesWithSecondsMixin, admin_refusal_show
from kernel.errors import ApplicationError

PROFILE_FIELDS = ("phone", "segment", "latitude", "longitude", "timezone", "email_opt_out")


class ProfileInline(admin.StackedInline):
    model = CustomerProfile
    can_delete = False


@admin.register(User)
class PlatformUserAdmin(HistoryAdmin, UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "is_staff", "is_active", "date_joined"]

    def get_inline_instances(self, request, obj=None):
        # On "add user" the post_save receiver creates the profile; an inline would insert a second one.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def save_formset(self, request, form, formset, change):
        """The profile's changes go through `profile_update`, as on the API: a location
        change is recorded (LocationChange, naming the operator), half a location refused."""
        if formset.model is not CustomerProfile:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []  # for the LogEntry
        for inline in formset.forms:
            names = [n for n in inline.changed_data if n in PROFILE_FIELDS and n in inline.cleaned_data]
            if names:
                profile = profile_update(user=form.instance, changed_by=request.user,
                                         **{n: inline.cleaned_data[n] for n in names})
                formset.changed_objects.append((profile, names))
        return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:  # a refusal rolls the whole save back (the admin's own atomic block) and is shown
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            admin_refusal_show(self, request, None, exc)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Segment)
class SegmentAdmin(ServiceAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    """Through the segment services: deleting a segment that campaigns or promotions target
    is refused here as on the API."""

    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]

    def service_create(self, request, fields: dict, m2m: dict):
        return segment_create(**fields)

    def service_update(self, request, obj, fields: dict, m2m: dict):
        return segment_update(segment=obj, **fields)

    def service_delete(self, obj) -> None:
        segment_delete(segment_id=obj.pk)


@admin.register(LocationChange)
class LocationChangeAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["user", "old_latitude", "old_longitude", "new_latitude", "new_longitude", "changed_by",
                    "created_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "changed_by"]


class BalanceAdjustForm(forms.Form):
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT,
                                help_text="Signed: a credit is positive, a debit negative.")
    reason = forms.CharField(max_length=150, help_text="Why; it is written to the ledger row and the history.")

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise forms.ValidationError("The amount must not be zero.")
        return self.cleaned_data["amount"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
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
            except ApplicationError as exc:
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
class LedgerEntryAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    list_display = ["id", "account", "amount", "balance_after", "reason", "transaction_id", "description",
                    "created_at"]
    list_filter = ["reason"]
    search_fields = ["=transaction_id", "account__user__username"]
    list_select_related = ["account__user"]
