import re
from decimal import Decimal

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import Account, CustomerProfile, LedgerEntry, Segment, User
from accounts.money import MAX_AMOUNT, SUPPORTED_CURRENCIES
from accounts.selectors import segment_by_reference, user_by_login
from kernel.api import StrictSerializer, TimeZoneField

PHONE_PATTERN = r"^\+?[0-9]{6,15}$"
_SEGMENT_REFERENCE = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")


class LoginSerializer(TokenObtainPairSerializer):
    """`username` may be a username or an email address."""

    default_error_messages = {"no_active_account": "Invalid credentials."}

    def validate(self, attrs):
        login = attrs.get(self.username_field, "")
        if "@" in login:
            user = user_by_login(login=login)
            attrs[self.username_field] = user.get_username() if user else login
        return super().validate(attrs)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class ProfileSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True, source="user.username")
    email = serializers.EmailField(source="user.email", read_only=True, allow_null=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True, allow_blank=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True, allow_blank=True)
    is_staff = serializers.BooleanField(source="user.is_staff", read_only=True)
    phone = serializers.CharField(read_only=True, allow_null=True)
    segment = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True, allow_null=True)
    timezone = serializers.CharField(read_only=True)
    email_opt_out = serializers.BooleanField(read_only=True)


class ProfileUpdateSerializer(StrictSerializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False)
    phone = serializers.RegexField(PHONE_PATTERN, required=False, allow_null=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90,
                                        required=False, allow_null=True,
                                        help_text="Set by staff only (403 `location_set_by_staff` for a customer).")
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180,
                                         required=False, allow_null=True,
                                         help_text="Set by staff only (403 `location_set_by_staff` for a customer).")
    timezone = TimeZoneField(required=False)
    email_opt_out = serializers.BooleanField(required=False)

    def _user(self) -> User:
        """Whose profile this is: `context["user"]` (staff editing a customer), else the caller."""
        return self.context.get("user") or self.context["request"].user

    def validate_email(self, value: str) -> str:
        user = self._user()
        if User.objects.filter(email__iexact=value).exclude(pk=user.pk).exists():
            raise serializers.ValidationError("This email is in use.")
        return value

    def validate_phone(self, value):
        user = self._user()
        if value and CustomerProfile.objects.filter(phone=value).exclude(user=user).exists():
            raise serializers.ValidationError("This phone number is in use.")
        return value


class BalanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["balance", "currency", "updated_at"]


class SegmentField(serializers.SlugRelatedField):
    """A segment is named by its slug everywhere; its id is accepted too."""

    default_error_messages = {"does_not_exist": "Unknown segment.", "invalid": "A segment's slug or id."}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "The segment's slug (its id is accepted too).")
        super().__init__(slug_field="slug", queryset=Segment.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid")
        # Nothing a segment could be named by reaches the database (a NUL, a bigint overflow).
        plausible = (1 <= data <= 2**63 - 1 if isinstance(data, int)
                     else bool(_SEGMENT_REFERENCE.match(data)) and not (data.isdigit() and len(data) > 18))
        if not plausible:
            self.fail("does_not_exist")
        segment = segment_by_reference(data)
        if segment is None:
            self.fail("does_not_exist")
        return segment


class RegisterSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="Checked by the configured password validators.")
    email = serializers.EmailField(max_length=254, required=False, allow_null=True,
                                   help_text="An email address or a phone number (or both) is required.")
    phone = serializers.RegexField(PHONE_PATTERN, required=False, allow_null=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    phone = serializers.CharField(source="profile.phone", allow_null=True)


class CustomerCreateSerializer(RegisterSerializer):
    segment = SegmentField(required=False, allow_null=True)
    currency = serializers.ChoiceField(choices=SUPPORTED_CURRENCIES, required=False,
                                       help_text="The account's currency (default: DEFAULT_CURRENCY).")
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90,
                                        required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180,
                                         required=False, allow_null=True)
    timezone = TimeZoneField(required=False)


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    phone = serializers.CharField(source="profile.phone", allow_null=True)
    segment = serializers.SlugRelatedField(source="profile.segment", slug_field="slug", read_only=True,
                                           allow_null=True)
    latitude = serializers.DecimalField(source="profile.latitude", max_digits=9, decimal_places=6,
                                        allow_null=True)
    longitude = serializers.DecimalField(source="profile.longitude", max_digits=9, decimal_places=6,
                                         allow_null=True)
    timezone = serializers.CharField(source="profile.timezone", allow_null=True)
    email_opt_out = serializers.BooleanField(source="profile.email_opt_out", allow_null=True)
    balance = serializers.DecimalField(source="account.balance", max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField(source="account.currency", allow_null=True)


class CustomerFilterSerializer(serializers.Serializer):
    search = serializers.CharField(max_length=100, required=False,
                                   help_text="Part of the username, email address or phone number.")
    segment = SegmentField(required=False)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class StaffProfileUpdateSerializer(ProfileUpdateSerializer):
    """What staff may change on a customer: the customer's own fields, plus segment and location."""

    segment = SegmentField(required=False, allow_null=True)


class TopUpSerializer(StrictSerializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"),
                                      max_value=MAX_AMOUNT, help_text="Positive, in the account's currency.")
    reason = serializers.CharField(max_length=150, help_text="Why; written to the ledger row and the audit log.")


class TopUpResultSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    ledger_entry_id = serializers.IntegerField()


class EmptySerializer(StrictSerializer):
    """No fields: anything sent is refused as an unknown field."""


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "slug", "name", "description"]


class SegmentPublicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["slug", "name"]


class SegmentWriteSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def validate_slug(self, value: str) -> str:
        others = Segment.objects.filter(slug=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A segment with this slug already exists.")
        return value


class ProfileDetailSerializer(ProfileSerializer):
    id = serializers.IntegerField(read_only=True)
    user_id = serializers.IntegerField(read_only=True)


class ProfileFilterSerializer(serializers.Serializer):
    segment = SegmentField(required=False)


class LedgerEntrySerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="account.currency", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "amount", "currency", "reason", "description", "transaction_id", "balance_after",
                  "created_at"]
