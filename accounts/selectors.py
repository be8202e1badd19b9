from django.conf import settings
from django.db.models import Sum

from accounts.models import Account, LedgerEntry, User


def account_get(*, user: User) -> Account:
    return Account.objects.get(user=user)


def account_ledger_sum(*, account: Account):
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0


def user_by_login(*, login: str) -> User | None:
    """A login is a username or an email address."""
    field = "email__iexact" if "@" in login else "username"
    return User.objects.filter(**{field: login}).first()


def account_currency(*, user_id: int) -> str:
    """The customer's account currency (the default currency if they have no account yet)."""
    return (Account.objects.filter(user_id=user_id).values_list("currency", flat=True).first()
            or settings.DEFAULT_CURRENCY)
