from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User
from kernel.text import ascii_digits


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


def customer_list(*, search: str | None = None, segment: Segment | None = None,
                  is_active: bool | None = None) -> QuerySet[User]:
    """Customers (users who are not staff), oldest first, with what their detail shows.
    `search` matches part of the username, email address or phone number."""
    qs = (User.objects.filter(is_staff=False).select_related("profile__segment", "account")
          .order_by("pk"))
    if search:
        qs = qs.filter(Q(username__icontains=search) | Q(email__icontains=search)
                       | Q(profile__phone__icontains=search))
    if segment is not None:
        qs = qs.filter(profile__segment=segment)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.order_by("slug")


def segment_by_reference(reference: str | int) -> Segment | None:
    """A segment is named by its slug everywhere; its id is accepted too."""
    if isinstance(reference, int) or ascii_digits(str(reference)):
        found = Segment.objects.filter(pk=int(reference)).first()
        if found is not None or isinstance(reference, int):
            return found
    return Segment.objects.filter(slug=str(reference)).first()


def profile_list(*, segment: Segment | None = None) -> QuerySet[CustomerProfile]:
    qs = CustomerProfile.objects.select_related("user", "segment").order_by("pk")
    return qs.filter(segment=segment) if segment is not None else qs


def ledger_list_for_user(*, user_id: int) -> QuerySet[LedgerEntry]:
    """My statement, newest first (the ledger's id order is its write order)."""
    return LedgerEntry.objects.filter(account__user_id=user_id).select_related("account").order_by("-id")
