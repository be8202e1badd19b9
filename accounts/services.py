"""Every write to users, profiles and money."""
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db import transaction as db_transaction
from django.utils import timezone

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User
from accounts.money import money_quantize
from config.prepared_sql import prepared_cursor


_LEDGER_WRITE_SQL = f"""
WITH account AS (
    UPDATE {Account._meta.db_table} SET balance = %(balance)s, updated_at = %(now)s WHERE id = %(account)s RETURNING id
)
INSERT INTO {LedgerEntry._meta.db_table} (account_id, amount, balance_after, reason, transaction_id, description,
                                           created_at)
SELECT account.id, %(amount)s, %(balance)s, %(reason)s, %(transaction)s::uuid, %(description)s, %(now)s FROM account
RETURNING id
"""


def account_ledger_write(*, account: Account, amount: Decimal, reason: str, transaction_id: UUID | None,
                         description: str = "") -> LedgerEntry:
    """Applies a signed amount to an account that the caller holds locked, and records it.
    The caller checks the business rule (e.g. sufficient balance) first; the database check
    constraints (balance >= 0, amount != 0) are the last line of defence. The balance and
    its ledger row are written by one statement: one round trip on every money path."""
    amount = money_quantize(amount, account.currency)
    balance = money_quantize(account.balance + amount, account.currency)
    now = timezone.now()
    with prepared_cursor() as cursor:
        cursor.execute(_LEDGER_WRITE_SQL, {"balance": balance, "now": now, "account": account.pk, "amount": amount,
                                           "reason": reason, "transaction": transaction_id,
                                           "description": description})
        (entry_id,) = cursor.fetchone()
    account.balance, account.updated_at = balance, now
    entry = LedgerEntry(id=entry_id, account=account, amount=amount, balance_after=balance, reason=reason,
                        transaction_id=transaction_id, description=description, created_at=now)
    entry._state.adding, entry._state.db = False, connection.alias
    return entry


def account_debit(*, account: Account, amount: Decimal, transaction_id: UUID, description: str = "") -> LedgerEntry:
    return account_ledger_write(account=account, amount=-amount, reason=LedgerEntry.Reason.DEBIT,
                                transaction_id=transaction_id, description=description)


def account_refund(*, account: Account, amount: Decimal, transaction_id: UUID, description: str = "") -> LedgerEntry:
    return account_ledger_write(account=account, amount=amount, reason=LedgerEntry.Reason.REFUND,
                                transaction_id=transaction_id, description=description)


def account_top_up(*, user: User, amount: Decimal, description: str = "top-up") -> LedgerEntry:
    from accounts.locks import account_for_update

    with db_transaction.atomic():
        account = account_for_update().get(user=user)
        return account_ledger_write(account=account, amount=amount, reason=LedgerEntry.Reason.TOP_UP,
                                    transaction_id=None, description=description)


def customer_create(*, username: str, password: str, email: str | None = None, phone: str | None = None,
                    segment: Segment | None = None, currency: str | None = None, is_staff: bool = False,
                    latitude: Decimal | None = None, longitude: Decimal | None = None,
                    timezone: str = "UTC") -> User:
    with db_transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email or None,
                                        is_staff=is_staff)
        CustomerProfile.objects.create(user=user, phone=phone, segment=segment, latitude=latitude,
                                       longitude=longitude, timezone=timezone)
        Account.objects.create(user=user, **({"currency": currency} if currency else {}))
    return user


def profile_get_or_create(*, user: User) -> CustomerProfile:
    """Users created outside `customer_create` (e.g. `createsuperuser`) get a profile on first use."""
    profile, _ = CustomerProfile.objects.get_or_create(user=user)
    return profile


def profile_update(*, user: User, **fields) -> CustomerProfile:
    user_fields = {k: fields.pop(k) for k in ("first_name", "last_name", "email") if k in fields}
    with db_transaction.atomic():
        if user_fields:
            for name, value in user_fields.items():
                setattr(user, name, value)
            user.save(update_fields=list(user_fields))
        profile = profile_get_or_create(user=user)
        for name, value in fields.items():
            setattr(profile, name, value)
        if fields:
            profile.save(update_fields=list(fields))
    return profile
