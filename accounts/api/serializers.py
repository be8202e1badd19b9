import zoneinfo

from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts.models import Account, CustomerProfile, User
from accounts.selectors import user_by_login
from config.api import StrictSerializer


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
    phone = serializers.RegexField(r"^\+?[0-9]{6,15}$", required=False, allow_null=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90,
                                        required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180,
                                         required=False, allow_null=True)
    timezone = serializers.CharField(max_length=64, required=False)
    email_opt_out = serializers.BooleanField(required=False)

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Not an IANA time zone.")
        return value

    def validate_email(self, value: str) -> str:
        user = self.context["request"].user
        if User.objects.filter(email__iexact=value).exclude(pk=user.pk).exists():
            raise serializers.ValidationError("This email is in use.")
        return value

    def validate_phone(self, value):
        user = self.context["request"].user
        if value and CustomerProfile.objects.filter(phone=value).exclude(user=user).exists():
            raise serializers.ValidationError("This phone number is in use.")
        return value


class BalanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["balance", "currency", "updated_at"]
