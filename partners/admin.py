from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from kernel.admin import HistoryAdmin, ReadOnlyAdminMixin, TimesWithSecondsMixin, admin_action_each
from partners.models import CallbackAttempt, CallbackDelivery, Partner, PartnerActivation, PartnerCustomerLink
from partners.services import (CallbackUrlRefused, callback_redeliver, callback_url_check, partner_create,
                               partner_credentials_rotate, partner_customer_link, partner_customer_unlink,
                               partner_key_rotation_overlap)


def _show_secret_once(request, credentials) -> None:
    messages.warning(request, f"Credentials of {credentials.partner.name}: key id {credentials.key_id}, "
                              f"secret {credentials.secret} — copy it now, it is not shown again.")


class PartnerCustomerLinkInline(admin.TabularInline):
    """The customers this partner may activate for. Saved through the link services."""

    model = PartnerCustomerLink
    fk_name = "partner"
    extra = 0
    raw_id_fields = ["customer"]
    fields = ["customer", "created_at", "created_by"]
    readonly_fields = ["created_at", "created_by"]
    verbose_name_plural = "linked customers (the partner may activate only for these)"

    def has_change_permission(self, request, obj=None):
        # A link is added or removed, never re-pointed to another customer.
        return False


class PartnerForm(forms.ModelForm):
    def clean_callback_url(self) -> str:
        url = self.cleaned_data["callback_url"]
        if url:
            try:
                callback_url_check(url=url)
            except CallbackUrlRefused as exc:
                raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(Partner)
class PartnerAdmin(HistoryAdmin):
    form = PartnerForm
    list_display = ["name", "key_id", "is_active", "callback_url", "throttle_rate", "credentials_rotated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_id"]
    readonly_fields = ["key_id", "credentials_rotated_at", "previous_key_id", "previous_key_valid_until", "created_at"]
    fields = ["name", "is_active", "callback_url", "throttle_rate", "key_id", "credentials_rotated_at",
              "previous_key_id", "previous_key_valid_until", "created_at"]
    actions = ["rotate_credentials"]
    inlines = [PartnerCustomerLinkInline]

    def has_delete_permission(self, request, obj=None):
        # Activations and callbacks PROTECT their partner; deactivate it (is_active) instead.
        return False

    def save_formset(self, request, form, formset, change):
        if formset.model is not PartnerCustomerLink:
            return super().save_formset(request, form, formset, change)
        # Through the services (audit: created_by, log line); the attributes below are what
        # the admin's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for link_form in formset.deleted_forms:
            if link_form.instance.pk is not None:
                partner_customer_unlink(partner=form.instance, customer=link_form.instance.customer,
                                        removed_by_id=request.user.id)
                formset.deleted_objects.append(link_form.instance)
        for link_form in formset.extra_forms:
            if link_form.has_changed() and link_form not in formset.deleted_forms:
                formset.new_objects.append(partner_customer_link(
                    partner=form.instance, customer=link_form.cleaned_data["customer"],
                    created_by_id=request.user.id))

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

    @admin.action(permissions=["change"], description="Rotate credentials (asks first; shows the new secret once)")
    def rotate_credentials(self, request, queryset):
        """A confirmation page first: the partner must switch to the new key, and the old one
        keeps working for the overlap window unless the operator revokes it at once."""
        if not request.POST.get("post"):
            overlap = partner_key_rotation_overlap()
            context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Rotate credentials?",
                       "partners": list(queryset), "overlap_hours": round(overlap.total_seconds() / 3600, 2),
                       "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "media": self.media}
            return TemplateResponse(request, "admin/partners/partner/rotate_credentials_confirmation.html", context)
        revoke_previous = bool(request.POST.get("revoke_previous"))
        for partner in queryset:
            credentials = partner_credentials_rotate(partner=partner, revoke_previous=revoke_previous,
                                                     rotated_by_id=request.user.pk)
            self.log_change(request, credentials.partner, "Credentials rotated" + (
                "; previous key revoked at once" if revoke_previous else
                f"; previous key valid until {credentials.partner.previous_key_valid_until:%Y-%m-%d %H:%M:%S} UTC"))
            _show_secret_once(request, credentials)
        return None


@admin.register(PartnerActivation)
class PartnerActivationAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    """The record behind validate/ and reverse/: money moved for it, so it is never added,
    edited or deleted here."""

    list_display = ["reference", "partner", "transaction", "customer_identifier", "offer", "created_at"]
    list_filter = ["partner"]
    search_fields = ["reference", "customer_identifier", "=transaction__id"]
    readonly_fields = [f.name for f in PartnerActivation._meta.fields]
    list_select_related = ["partner", "transaction", "offer"]


class CallbackAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms"]


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(ReadOnlyAdminMixin, TimesWithSecondsMixin, admin.ModelAdmin):
    """What was announced to a partner, and every attempt: read-only; Redeliver (the same
    event id, through `callback_redeliver`) is the one operator write, logged."""

    list_display = ["id", "partner", "event_type", "status", "attempts_count", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event_type", "partner"]
    search_fields = ["=transaction__id", "url"]
    readonly_fields = [f.name for f in CallbackDelivery._meta.fields]
    inlines = [CallbackAttemptInline]
    actions = ["redeliver"]

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(permissions=["redeliver"], description="Redeliver the event (same event id)")
    def redeliver(self, request, queryset):
        admin_action_each(self, request, queryset, lambda delivery: callback_redeliver(delivery=delivery),
                          done="Queued for redelivery")
