"""Audit history of the configuration an operator edits (django-simple-history).

`ConfigHistory` is `HistoricalRecords` for models whose rows also carry counters that
settlement, workers or logins write (a campaign's spent amount, a pool's claimed count, a
user's last login). Those columns are left out of the history table, and a save that writes
only such columns (`save(update_fields=[...])`) writes no history row: the settlement hot
path stays one UPDATE per row, and the history shows who changed the configuration."""
from django.contrib.auth.models import AbstractBaseUser
from simple_history.models import HistoricalRecords


def history_user_of(request=None, **kwargs):
    """The platform user behind the request, if any. A partner-signed request authenticates
    a Partner as DRF's request.user (set on the Django request too): not a user to record."""
    user = getattr(request, "user", None) if request is not None else None
    return user if isinstance(user, AbstractBaseUser) and user.is_authenticated else None


class ConfigHistory(HistoricalRecords):
    def __init__(self, *args, untracked_fields: tuple[str, ...] = (), **kwargs):
        """`untracked_fields`: columns kept out of the history; a save of only these (and
        `updated_at`) writes no history row."""
        kwargs.setdefault("get_user", history_user_of)
        kwargs["excluded_fields"] = [*kwargs.get("excluded_fields", ()), *untracked_fields]
        self.untracked_fields = frozenset((*untracked_fields, "updated_at"))
        super().__init__(*args, **kwargs)

    def post_save(self, instance, created, using=None, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not created and update_fields is not None and frozenset(update_fields) <= self.untracked_fields:
            return
        super().post_save(instance, created, using=using, **kwargs)
