"""The admin is a client of services, never a back door into the money.

Money, counters, audit rows and the engine's state are read-only here (ReadOnlyAdminMixin);
the models an operator may edit save through their app's services, which lock the row and
write only what changed (ServiceAdminMixin). Every write leaves Django's LogEntry."""
import math
from datetime import timezone as dt_timezone
from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db import transaction as db_transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from kernel.errors import ApplicationError
from kernel.throttles import login_attempt_wait

ADMIN_SITE_HEADER = "Offers & Activation — operations"
ADMIN_SITE_TITLE = "Offers & Activation admin"
ADMIN_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def admin_time(value) -> str:
    """A time as operators compare it with logs and traces: UTC to the second."""
    return timezone.localtime(value, dt_timezone.utc).strftime(ADMIN_TIME_FORMAT) + " UTC"


def admin_operator_links() -> list[dict]:
    """What the admin index links to besides the models: the API docs and the dashboards."""
    grafana = settings.GRAFANA_URL.rstrip("/")
    return [
        {"title": "API docs (Swagger)", "url": "/swagger/", "note": "try every endpoint"},
        {"title": "API reference (ReDoc)", "url": "/redoc/", "note": "the same schema, to read"},
        {"title": "Dashboard: Queue health", "url": f"{grafana}/d/queue-health", "note": "Grafana"},
        {"title": "Dashboard: Business flow", "url": f"{grafana}/d/business-flow", "note": "Grafana"},
        {"title": "All dashboards", "url": f"{grafana}/dashboards", "note": "Grafana"},
    ]


class TimesWithSecondsMixin:
    """Date-times in the change list to the second, in UTC (Django's default stops at the
    minute): each DateTimeField named in list_display is shown through `admin_time`, still
    sortable by its column."""

    def get_list_display(self, request):
        return [self._time_column(name) if isinstance(name, str) else name
                for name in super().get_list_display(request)]

    def _time_column(self, name: str):
        # One function per field and admin: the change list compares columns by identity
        # (sortable_by is a second get_list_display()).
        columns = self.__dict__.setdefault("_time_columns", {})
        if name not in columns:
            columns[name] = self._time_column_make(name)
        return columns[name]

    def _time_column_make(self, name: str):
        try:
            field = self.opts.get_field(name)
        except Exception:  # a method, property or relation path: shown as declared
            return name
        if not isinstance(field, models.DateTimeField):
            return name

        @admin.display(description=field.verbose_name, ordering=name)
        def column(obj):
            value = getattr(obj, name)
            return admin_time(value) if value is not None else None

        column.__name__ = name  # the column's CSS class and sort key stay the field's name
        return column


class HistoryAdmin(TimesWithSecondsMixin, SimpleHistoryAdmin):
    """The "History" page lists every change to the object, from the API or the admin, with
    who made it. Read-only: reverting from the history would write past the services."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyAdminMixin:
    """No add, no change, no delete: the pages become view pages (and `delete_selected`
    disappears). Actions that call services stay available."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admin_refusal_show(modeladmin: admin.ModelAdmin, request, obj, exc: ApplicationError) -> None:
    prefix = f"{obj}: " if obj is not None else ""
    modeladmin.message_user(request, f"{prefix}{exc.message}", messages.ERROR)


class ServiceAdminMixin:
    """For models whose writes go through services. A refusal (`ApplicationError`) raised while
    saving rolls the whole admin request back (nothing written, no LogEntry) and is shown
    as an error on the form it came from. Deletion goes through `service_delete`, one object
    at a time, logged only when it happened."""

    def service_create(self, request, fields: dict, m2m: dict):
        raise NotImplementedError

    def service_update(self, request, obj, fields: dict, m2m: dict):
        raise NotImplementedError

    def service_delete(self, obj) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change) -> None:
        """Only what the operator changed goes to the service (form.changed_data), so a
        column a worker wrote since the form was loaded (spent, used, claimed) is never
        written back; the service locks the row and re-reads it before it writes."""
        m2m_names = {f.name for f in self.opts.many_to_many}
        names = [n for n in (form.changed_data if change else form.cleaned_data) if n in form.cleaned_data]
        fields = {n: form.cleaned_data[n] for n in names if n not in m2m_names}
        m2m = {n: form.cleaned_data[n] for n in names if n in m2m_names}
        if change and not (fields or m2m):
            return
        saved = self.service_update(request, obj, fields, m2m) if change else self.service_create(request, fields, m2m)
        # The admin goes on with `obj` (its LogEntry, its redirect): give it the row as saved.
        for field in self.opts.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_related(self, request, form, formsets, change) -> None:
        # Many-to-many fields went through the service in save_model (no form.save_m2m()).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            admin_refusal_show(self, request, None, exc)
            return HttpResponseRedirect(request.get_full_path())

    def log_deletions(self, request, queryset):
        pass  # logged by delete_model, in the savepoint of the deletion it records

    def delete_model(self, request, obj) -> None:
        try:
            with db_transaction.atomic():
                admin.ModelAdmin.log_deletions(self, request, [obj])
                self.service_delete(obj)
        except ApplicationError as exc:
            admin_refusal_show(self, request, obj, exc)
            request._admin_delete_refused = True

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "_admin_delete_refused", False):
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")
        return super().response_delete(request, obj_display, obj_id)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (service_delete_selected, "delete_selected",
                                          actions["delete_selected"][2])
        return actions


@admin.action(permissions=["delete"], description=delete_selected.short_description)
def service_delete_selected(modeladmin, request, queryset):
    """Django's confirmation page, then each object through the service: refusals are shown
    one by one, and only what was deleted is counted."""
    if not request.POST.get("post"):
        return delete_selected(modeladmin, request, queryset)
    if not modeladmin.has_delete_permission(request):
        return delete_selected(modeladmin, request, queryset)  # Django refuses
    deleted = 0
    for obj in queryset:
        request._admin_delete_refused = False
        modeladmin.delete_model(request, obj)
        deleted += not request._admin_delete_refused
    if deleted:
        modeladmin.message_user(request, f"Deleted {deleted} {modeladmin.opts.verbose_name_plural}.",
                                messages.SUCCESS)
    return None


def admin_action_each(modeladmin: admin.ModelAdmin, request, queryset, call, *, done: str) -> None:
    """Runs `call(obj)` for each selected object in its own savepoint: a refusal is shown
    and the others still happen. Each success is logged (LogEntry) with `done`."""
    succeeded = 0
    for obj in queryset:
        try:
            with db_transaction.atomic():
                call(obj)
                modeladmin.log_change(request, obj, done)
        except ApplicationError as exc:
            admin_refusal_show(modeladmin, request, obj, exc)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{done}: {succeeded} {modeladmin.opts.verbose_name_plural}.",
                                messages.SUCCESS)


def admin_login_throttled(login_view):
    """The admin's login view behind the API's login throttle: each POST counts per client
    and per submitted username; over the limit it answers 429 with Retry-After, whatever
    the password, so guessing is as slow here as on /api/v1/auth/login/."""

    @wraps(login_view)
    def view(request, *args, **kwargs):
        if request.method == "POST":
            wait = login_attempt_wait(request, username=str(request.POST.get("username", "")))
            if wait is not None:
                response = HttpResponse("Too many login attempts; retry later.\n", status=429,
                                        content_type="text/plain; charset=utf-8")
                response["Retry-After"] = str(math.ceil(wait))
                return response
        return login_view(request, *args, **kwargs)

    return view
