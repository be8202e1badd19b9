"""Signal receivers of accounts: thin, each calls one service."""
from kernel.jwt_auth import user_forget
from accounts.services import customer_records_ensure


def user_saved_ensure_customer_records(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """However a user is created (API, admin, createsuperuser, create_user, a shell), it
    gets its Account and CustomerProfile in the same breath. Fixture loading (raw) is left
    alone: fixtures carry their own rows."""
    if created and not raw:
        customer_records_ensure(user_id=instance.pk)


def user_changed_forget(sender, instance, **kwargs) -> None:
    """A saved or deleted user authenticates with its new state in this process at once."""
    user_forget(instance.pk)
