"""Every write to users, profiles and money."""
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.db import transaction as db_transaction
from django.utils import timezone

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User
from accounts.money import money_quantize
from accounts.selectors import account_get
from config.errors import ConflictError
from config.prepared_sql import prepared_cursor


class AdjustmentRefused(ConflictError):
    code = "adjustment_refused"
    message = "The balance cannot be adjusted this way."


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


def customer_records_ensure(*, user_id: int) -> None:
    """Every user has an Account (in DEFAULT_CURRENCY) and a CustomerProfile, however the
    user was created (API, admin, createsuperuser, shell). Idempotent and race-free: each
    row is one INSERT ... ON CONFLICT DO NOTHING on its unique user_id."""
    with db_transaction.atomic():
        Account.objects.bulk_create([Account(user_id=user_id, currency=settings.DEFAULT_CURRENCY)],
                                    ignore_conflicts=True)
        CustomerProfile.objects.bulk_create([CustomerProfile(user_id=user_id)], ignore_conflicts=True)


def customer_create(*, username: str, password: str, email: str | None = None, phone: str | None = None,
                    segment: Segment | None = None, currency: str | None = None, is_staff: bool = False,
                    latitude: Decimal | None = None, longitude: Decimal | None = None,
                    timezone: str = "UTC") -> User:
    """The user's post_save receiver has already created a default account and profile when
    the rows below are written; each is an upsert on user_id, so the values asked for here
    (currency, segment, phone, location) win either way."""
    with db_transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email or None,
                                        is_staff=is_staff)
        profile_fields = {"phone": phone, "segment": segment, "latitude": latitude, "longitude": longitude,
                          "timezone": timezone}
        CustomerProfile.objects.bulk_create([CustomerProfile(user=user, **profile_fields)], update_conflicts=True,
                                            unique_fields=["user"], update_fields=list(profile_fields))
        Account.objects.bulk_create([Account(user=user, currency=currency or settings.DEFAULT_CURRENCY)],
                                    update_conflicts=True, unique_fields=["user"], update_fields=["currency"])
    return user


def account_of_customer(*, user: User) -> Account:
    """The user's account, created on the spot should the user have none (a row removed by
    hand: the post_save receiver and migration 0002 give every user one)."""
    try:
        return account_get(user=user)
    except Account.DoesNotExist:
        customer_records_ensure(user_id=user.pk)
        return account_get(user=user)


def account_adjust(*, user_id: int, amount: Decimal, reason: str, operator_id: int) -> LedgerEntry:
    """An operator's correction of a balance: a signed amount, a reason, the operator. Runs
    under the account's row lock like every other money path, refuses (nothing written) a
    change that would take the balance below 0, and writes one `adjustment` ledger row that
    names the operator and the reason."""
    from accounts.locks import account_for_update

    reason = (reason or "").strip()
    if not reason:
        raise AdjustmentRefused("A reason is required.", code="reason_required")
    if not amount:
        raise AdjustmentRefused("The amount must not be zero.", code="amount_zero")
    with db_transaction.atomic():
        account = account_for_update().get(user_id=user_id)
        amount = money_quantize(amount, account.currency)
        if not amount:
            raise AdjustmentRefused(f"The amount rounds to zero in {account.currency}.", code="amount_zero")
        if account.balance + amount < 0:
            raise AdjustmentRefused(
                f"The balance would go below 0 ({account.balance} {account.currency} {amount:+}).",
                code="insufficient_balance", details={"balance": str(account.balance)})
        operator = User.objects.filter(pk=operator_id).values_list("username", flat=True).first() or operator_id
        description = f"by {operator}: {reason}"[:LedgerEntry._meta.get_field("description").max_length]
        return account_ledger_write(account=account, amount=amount, reason=LedgerEntry.Reason.ADJUSTMENT,
                                    transaction_id=None, description=description)


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
