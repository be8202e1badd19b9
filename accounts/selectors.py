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
