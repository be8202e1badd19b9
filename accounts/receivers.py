"""Signal receivers of accounts: thin, each calls one service."""
from accounts.services import customer_records_ensure


def user_saved_ensure_customer_records(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """However a user is created (API, admin, createsuperuser, create_user, a shell), it
    gets its Account and CustomerProfile in the same breath. Fixture loading (raw) is left
    alone: fixtures carry their own rows."""
    if created and not raw:
        customer_records_ensure(user_id=instance.pk)
