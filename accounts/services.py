"""Every write to users, profiles and money."""
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import Model
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Account, CustomerProfile, LedgerEntry, LocationChange, Segment, User
from accounts.locks import account_for_update, customer_profile_for_update, segment_for_update, user_for_update
from accounts.money import MAX_AMOUNT, money_quantize, money_whole_require
from accounts.selectors import account_get
from accounts.sql import LedgerChange, account_balances_set_with_ledger_entries
from kernel.errors import ApplicationError, ConflictError, NotPermitted


class AdjustmentRefused(ConflictError):
    code = "adjustment_refused"
    message = "The balance cannot be adjusted this way."


class CustomerRefused(ApplicationError):
    """A customer record that cannot be written as asked (a weak password, an address that
    is taken): a 400 that names the field, like a validation error."""

    code = "validation_error"
    message = "The request is invalid."


class LocationSetByStaff(NotPermitted):
    code = "location_set_by_staff"
    message = "A customer's location is set by staff; it cannot be changed here."


class SegmentInUse(ConflictError):
    code = "segment_in_use"
    message = "The segment is used by campaigns or promotions; remove it from them first."


class SegmentRefused(ApplicationError):
    code = "validation_error"
    message = "The request is invalid."


LOCATION_FIELDS = ("latitude", "longitude")


def account_ledger_write(*, account: Account, amount: Decimal, reason: str, transaction_id: UUID | None,
                         description: str = "") -> LedgerEntry:
    """Applies a signed amount to an account that the caller holds locked, and records it.
    The caller checks the business rule (e.g. sufficient balance) first; the database check
    constraints (balance >= 0, amount != 0) are the last line of defence. The balance and
    its ledger row are written by one statement: one round trip on every money path."""
    ledger = LedgerBatch()
    ledger.write(account=account, amount=amount, reason=reason, transaction_id=transaction_id,
                 description=description)
    (entry,) = ledger.record()
    return entry


class LedgerBatch:
    """Ledger writes on accounts the caller holds locked, as account_ledger_write makes them
    one at a time: each is applied to the in-memory account when it is made (so the next
    decision of a settlement batch sees the balance it left) and all are written by one
    statement in `record`."""

    def __init__(self) -> None:
        self._changes: list[LedgerChange] = []

    def write(self, *, account: Account, amount: Decimal, reason: str, transaction_id: UUID | None,
              description: str = "") -> None:
        amount = money_quantize(amount, account.currency)
        balance = money_quantize(account.balance + amount, account.currency)
        self._changes.append(LedgerChange(account=account, amount=amount, balance_after=balance, reason=reason,
                                          transaction_id=transaction_id, description=description))
        account.balance = balance

    def debit(self, *, account: Account, amount: Decimal, transaction_id: UUID, description: str = "") -> None:
        self.write(account=account, amount=-amount, reason=LedgerEntry.Reason.DEBIT, transaction_id=transaction_id,
                   description=description)

    def record(self) -> list[LedgerEntry]:
        now = timezone.now()
        entries = account_balances_set_with_ledger_entries(self._changes, now=now)
        for change in self._changes:
            change.account.updated_at = now
        self._changes = []
        return entries


def account_debit(*, account: Account, amount: Decimal, transaction_id: UUID, description: str = "") -> LedgerEntry:
    return account_ledger_write(account=account, amount=-amount, reason=LedgerEntry.Reason.DEBIT,
                                transaction_id=transaction_id, description=description)


def account_refund(*, account: Account, amount: Decimal, transaction_id: UUID, description: str = "") -> LedgerEntry:
    return account_ledger_write(account=account, amount=amount, reason=LedgerEntry.Reason.REFUND,
                                transaction_id=transaction_id, description=description)


def account_top_up(*, user: User, amount: Decimal, description: str = "top-up") -> LedgerEntry:
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
                    timezone: str = "UTC", first_name: str = "", last_name: str = "") -> User:
    """The user's post_save receiver has already created a default account and profile when
    the rows below are written; each is an upsert on user_id, so the values asked for here
    (currency, segment, phone, location) win either way."""
    with db_transaction.atomic():
        # Not create_user: it stores a missing email as "", which the unique email column
        # then holds against the next customer without one. NULLs do not collide.
        user = User(username=User.normalize_username(username), email=User.objects.normalize_email(email) or None,
                    is_staff=is_staff, first_name=first_name, last_name=last_name)
        user.set_password(password)
        user.save()
        profile_fields = {"phone": phone, "segment": segment, "latitude": latitude, "longitude": longitude,
                          "timezone": timezone}
        CustomerProfile.objects.bulk_create([CustomerProfile(user=user, **profile_fields)], update_conflicts=True,
                                            unique_fields=["user"], update_fields=list(profile_fields))
        Account.objects.bulk_create([Account(user=user, currency=currency or settings.DEFAULT_CURRENCY)],
                                    update_conflicts=True, unique_fields=["user"], update_fields=["currency"])
    return user


# The unique constraints a customer record can run into, by the field a client named.
_UNIQUE_FIELDS = {"accounts_user_username_key": "username", "accounts_user_email_key": "email",
                  "accounts_customerprofile_phone_key": "phone"}
_TAKEN = {"username": "This username is already taken.", "email": "This email address is already registered.",
          "phone": "This phone number is already registered."}


def customer_register(*, username: str, password: str, email: str | None = None, phone: str | None = None,
                      first_name: str = "", last_name: str = "", created_by: User | None = None,
                      segment: Segment | None = None, currency: str | None = None,
                      latitude: Decimal | None = None, longitude: Decimal | None = None,
                      timezone: str = "UTC") -> User:
    """A new customer: self-registration (`created_by` None) or created by staff. Both need
    an email address or a phone number and a password the configured validators accept;
    a username, email address or phone number already registered is refused naming the
    field (and only that). Only staff place a customer in a segment, a currency or a
    location; their creation is logged (LogEntry, and a LocationChange for a location)."""
    staff_fields = {"segment": segment, "currency": currency, "latitude": latitude, "longitude": longitude}
    if created_by is None or not created_by.is_staff:
        if latitude is not None or longitude is not None:
            raise LocationSetByStaff()
        if segment is not None or currency is not None:
            raise NotPermitted("Only staff choose a segment or a currency.", code="set_by_staff")
    if (latitude is None) != (longitude is None):
        raise CustomerRefused("Latitude and longitude go together.",
                              details={"latitude": ["Latitude and longitude are both set or both empty."]})
    if not email and not phone:
        raise CustomerRefused("An email address or a phone number is required.",
                              details={"email": ["An email address or a phone number is required."]})
    errors = {field: [_TAKEN[field]] for field in customer_identifiers_taken(username=username, email=email,
                                                                             phone=phone)}
    try:
        validate_password(password, user=User(username=username, email=email or "", first_name=first_name,
                                              last_name=last_name))
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise CustomerRefused(details=errors)
    try:
        with db_transaction.atomic():
            user = customer_create(username=username, password=password, email=email, phone=phone,
                                   first_name=first_name, last_name=last_name, timezone=timezone, **staff_fields)
            if created_by is not None:
                _audit_log(operator_id=created_by.pk, obj=user, flag=ADDITION, message="Created through the API")
                if latitude is not None or longitude is not None:
                    LocationChange.objects.create(user=user, changed_by=created_by, new_latitude=latitude,
                                                  new_longitude=longitude)
    except IntegrityError as exc:  # a twin registered the same identifier meanwhile
        field = _unique_field_of(exc)
        if field is None:
            raise
        raise CustomerRefused("Already registered.", details={field: [_TAKEN[field]]}) from exc
    return user


def customer_identifiers_taken(*, username: str | None = None, email: str | None = None, phone: str | None = None,
                               exclude_user_id: int | None = None) -> list[str]:
    """Which of these identifiers another user already has (case-insensitive, as login reads them)."""
    users = User.objects.exclude(pk=exclude_user_id) if exclude_user_id else User.objects.all()
    taken = []
    if username and users.filter(username__iexact=username).exists():
        taken.append("username")
    if email and users.filter(email__iexact=email).exists():
        taken.append("email")
    if phone and CustomerProfile.objects.filter(phone=phone).exclude(user_id=exclude_user_id).exists():
        taken.append("phone")
    return taken


def _unique_field_of(exc: IntegrityError) -> str | None:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
    return _UNIQUE_FIELDS.get(constraint)


def customer_update(*, user: User, changed_by: User, **fields) -> CustomerProfile:
    """Staff change a customer's names, email, phone, segment, location, timezone or email
    opt-out (`customers/{id}/`, `users/profiles/{id}/`): one rule with the customer's own
    profile changes (`profile_update`), logged as a LogEntry on the user."""
    with db_transaction.atomic():
        profile = profile_update(user=user, changed_by=changed_by, **fields)
        if fields:
            _audit_log(operator_id=changed_by.pk, obj=user, flag=CHANGE,
                       message=f"Changed {', '.join(sorted(fields))} through the API")
    return profile


def customer_deactivate(*, user_id: int, operator_id: int) -> User:
    """The customer can no longer log in; their access tokens are refused from now on
    (simplejwt checks `is_active` on every request) and every refresh token they hold is
    blacklisted, so even a reactivation does not revive an old session. Idempotent."""
    with db_transaction.atomic():
        user = user_for_update().get(pk=user_id)
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
            _audit_log(operator_id=operator_id, obj=user, flag=CHANGE, message="Deactivated through the API")
        outstanding = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in outstanding],
                                             ignore_conflicts=True)
    return user


# The segment services log their write (LogEntry) for an API caller, who names the operator;
# the admin (operator_id None) logs its own.
def segment_create(*, slug: str, name: str, description: str = "", operator_id: int | None = None) -> Segment:
    try:
        with db_transaction.atomic():
            segment = Segment.objects.create(slug=slug, name=name, description=description)
            if operator_id is not None:
                _audit_log(operator_id=operator_id, obj=segment, flag=ADDITION, message="Created through the API")
    except IntegrityError as exc:
        raise SegmentRefused("Already exists.", details={"slug": ["A segment with this slug already exists."]}) from exc
    return segment


def segment_update(*, segment: Segment, operator_id: int | None = None, **fields) -> Segment:
    try:
        with db_transaction.atomic():
            for name, value in fields.items():
                setattr(segment, name, value)
            if fields:
                segment.save(update_fields=list(fields))
                if operator_id is not None:
                    _audit_log(operator_id=operator_id, obj=segment, flag=CHANGE,
                               message=f"Changed {', '.join(sorted(fields))} through the API")
    except IntegrityError as exc:
        raise SegmentRefused("Already exists.", details={"slug": ["A segment with this slug already exists."]}) from exc
    return segment


def segment_delete(*, segment_id: int, operator_id: int | None = None) -> None:
    """Refused (409) while anything but customer profiles refers to the segment (a
    campaign's or a flash promo's targeting, whichever app holds it: found through the
    model's reverse relations, since accounts imports no other app). Profiles in it are
    left without a segment. The segment row is locked first, so a campaign cannot be
    pointed at it between the check and the delete."""
    with db_transaction.atomic():
        segment = segment_for_update().get(pk=segment_id)
        used_by = {}
        for relation in Segment._meta.related_objects:
            if relation.related_model is CustomerProfile:
                continue
            count = relation.related_model._default_manager.filter(**{relation.field.name: segment}).count()
            if count:
                used_by[relation.get_accessor_name()] = count
        if used_by:
            raise SegmentInUse(details={"used_by": used_by})
        if operator_id is not None:
            _audit_log(operator_id=operator_id, obj=segment, flag=DELETION, message="Deleted through the API")
        segment.delete()


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
    return _account_operator_write(user_id=user_id, amount=amount, reason=reason, operator_id=operator_id,
                                   ledger_reason=LedgerEntry.Reason.ADJUSTMENT)


def account_top_up_by_operator(*, user_id: int, amount: Decimal, reason: str, operator_id: int) -> LedgerEntry:
    """Staff credit a customer's balance (`customers/{id}/top-up/`): a positive amount and a
    reason, under the account's row lock; one `top_up` ledger row naming the operator and the
    reason, and a LogEntry on the account (the admin's history of it)."""
    if amount <= 0:
        raise AdjustmentRefused("A top-up must be positive.", code="amount_not_positive")
    with db_transaction.atomic():
        entry = _account_operator_write(user_id=user_id, amount=amount, reason=reason, operator_id=operator_id,
                                        ledger_reason=LedgerEntry.Reason.TOP_UP)
        _audit_log(operator_id=operator_id, obj=entry.account, flag=CHANGE,
                   message=f"Topped up by {entry.amount} {entry.account.currency} (ledger entry {entry.pk}): "
                           f"{reason.strip()}")
    return entry


def _account_operator_write(*, user_id: int, amount: Decimal, reason: str, operator_id: int,
                            ledger_reason: str) -> LedgerEntry:
    reason = (reason or "").strip()
    if not reason:
        raise AdjustmentRefused("A reason is required.", code="reason_required")
    if not amount:
        raise AdjustmentRefused("The amount must not be zero.", code="amount_zero")
    with db_transaction.atomic():
        account = account_for_update().get(user_id=user_id)
        money_whole_require(account.currency, amount=amount)
        if account.balance + amount < 0:
            raise AdjustmentRefused(
                f"The balance would go below 0 ({account.balance} {account.currency} {amount:+}).",
                code="insufficient_balance", details={"balance": str(account.balance)})
        if account.balance + amount > MAX_AMOUNT:
            raise AdjustmentRefused(f"The balance would exceed {MAX_AMOUNT} {account.currency}.",
                                    code="balance_limit", details={"balance": str(account.balance)})
        operator = User.objects.filter(pk=operator_id).values_list("username", flat=True).first() or operator_id
        description = f"by {operator}: {reason}"[:LedgerEntry._meta.get_field("description").max_length]
        return account_ledger_write(account=account, amount=amount, reason=ledger_reason,
                                    transaction_id=None, description=description)


def _audit_log(*, operator_id: int, obj: Model, flag: int, message: str) -> None:
    """The admin's own audit trail (LogEntry), so an API write by staff shows in the
    object's admin history next to the admin's own changes."""
    LogEntry.objects.log_actions(user_id=operator_id, queryset=[obj], action_flag=flag,
                                 change_message=message, single_object=True)


def profile_get_or_create(*, user: User) -> CustomerProfile:
    """Users created outside `customer_create` (e.g. `createsuperuser`) get a profile on first use."""
    profile, _ = CustomerProfile.objects.get_or_create(user=user)
    return profile


def profile_update(*, user: User, changed_by: User | None = None, **fields) -> CustomerProfile:
    """Changes a user's names, email and profile fields. Location (flash promos decide by
    the distance from it) is set only by staff: anyone else who sends latitude or longitude
    is refused (403 `location_set_by_staff`) and nothing changes. Each change of a location
    is recorded (LocationChange: who, old, new). `changed_by` defaults to the user."""
    changed_by = changed_by or user
    if set(fields) & set(LOCATION_FIELDS) and not changed_by.is_staff:
        raise LocationSetByStaff()
    user_fields = {k: fields.pop(k) for k in ("first_name", "last_name", "email") if k in fields}
    with db_transaction.atomic():
        if user_fields:
            for name, value in user_fields.items():
                setattr(user, name, value)
            user.save(update_fields=list(user_fields))
        profile = profile_get_or_create(user=user)
        if set(fields) & set(LOCATION_FIELDS):  # the old location as it stands while this one is written
            profile = customer_profile_for_update().get(pk=profile.pk)
        old_location = (profile.latitude, profile.longitude)
        for name, value in fields.items():
            setattr(profile, name, value)
        if (profile.latitude is None) != (profile.longitude is None):
            raise CustomerRefused("Latitude and longitude go together.",
                                  details={"latitude": ["Latitude and longitude are both set or both empty."]})
        if fields:
            profile.save(update_fields=list(fields))
        if (profile.latitude, profile.longitude) != old_location:
            LocationChange.objects.create(user=user, changed_by=changed_by, old_latitude=old_location[0],
                                          old_longitude=old_location[1], new_latitude=profile.latitude,
                                          new_longitude=profile.longitude)
    return profile
