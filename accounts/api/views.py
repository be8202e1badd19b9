from django.db import IntegrityError
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.api.serializers import (BalanceSerializer, CustomerCreateSerializer, CustomerFilterSerializer,
                                      CustomerSerializer, EmptySerializer, LedgerEntrySerializer, LoginSerializer,
                                      ProfileDetailSerializer, ProfileFilterSerializer, ProfileSerializer,
                                      ProfileUpdateSerializer, RegisteredSerializer, RegisterSerializer,
                                      SegmentPublicSerializer, SegmentSerializer, SegmentWriteSerializer,
                                      StaffProfileUpdateSerializer, TokenPairSerializer, TopUpResultSerializer,
                                      TopUpSerializer)
from accounts.models import CustomerProfile, User
from accounts.selectors import customer_list, ledger_list_for_user, profile_list, segment_list
from accounts.services import (account_of_customer, account_top_up_by_operator, customer_deactivate,
                               customer_register, customer_update, profile_get_or_create, profile_update,
                               segment_create, segment_delete, segment_update)
from kernel.api import ErrorSerializer
from kernel.errors import ConflictError

class LoginApi(jwt_views.TokenObtainPairView):
    serializer_class = LoginSerializer
    throttle_scope = "login"

    @swagger_auto_schema(responses={200: TokenPairSerializer, 401: ErrorSerializer}, security=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshApi(jwt_views.TokenRefreshView):
    throttle_scope = "login"

    @swagger_auto_schema(responses={200: TokenPairSerializer, 401: ErrorSerializer}, security=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutApi(jwt_views.TokenBlacklistView):
    """Blacklists the refresh token so it can never be refreshed again."""

    @swagger_auto_schema(responses={200: "{}", 401: ErrorSerializer}, security=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ProfileApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @swagger_auto_schema(responses={200: ProfileSerializer})
    def get(self, request):
        return Response(ProfileSerializer(profile_get_or_create(user=request.user)).data)

    @swagger_auto_schema(request_body=ProfileUpdateSerializer,
                         responses={200: ProfileSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                                    409: ErrorSerializer},
                         operation_description="Latitude and longitude are set by staff only: a customer who "
                                               "sends them gets 403 `location_set_by_staff` and nothing changes.")
    def patch(self, request):
        return Response(ProfileSerializer(_own_profile_update(request)).data)


class BalanceApi(APIView):
    @swagger_auto_schema(responses={200: BalanceSerializer})
    def get(self, request):
        return Response(BalanceSerializer(account_of_customer(user=request.user)).data)


def _own_profile_update(request) -> CustomerProfile:
    """The caller changes their own profile (`auth/profile/`, `users/profiles/me/`, their own
    `users/profiles/{id}/`): what a customer may change, location for staff only."""
    serializer = ProfileUpdateSerializer(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    try:
        return profile_update(user=request.user, changed_by=request.user, **serializer.validated_data)
    except IntegrityError:
        raise ConflictError("That email or phone number was just taken.", code="profile_conflict")


def _staff_profile_update(request, user: User) -> CustomerProfile:
    serializer = StaffProfileUpdateSerializer(data=request.data, context={"request": request, "user": user})
    serializer.is_valid(raise_exception=True)
    try:
        return customer_update(user=user, changed_by=request.user, **serializer.validated_data)
    except IntegrityError:
        raise ConflictError("That email or phone number was just taken.", code="profile_conflict")


class RegisterApi(APIView):
    """Customer self-registration. No login tokens: the client logs in next (`auth/login/`).
    Throttled per client address (`THROTTLE_REGISTER`)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_scope = "register"

    @swagger_auto_schema(request_body=RegisterSerializer, security=[],
                         responses={201: RegisteredSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
                         operation_description="A username, email address or phone number already registered is "
                                               "a 400 naming the field; a password the validators refuse is a 400 "
                                               "on `password`. The new customer has an account in the default "
                                               "currency and an empty profile.")
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = customer_register(**serializer.validated_data)
        return Response(RegisteredSerializer(user).data, status=status.HTTP_201_CREATED)


class LedgerApi(generics.ListAPIView):
    """My statement: every change of my balance, newest first."""

    serializer_class = LedgerEntrySerializer

    def get_queryset(self):
        return ledger_list_for_user(user_id=self.request.user.id)


def _customer_get(pk: int) -> User:
    customer = customer_list().filter(pk=pk).first()
    if customer is None:
        raise NotFound("No such customer.")
    return customer


class CustomerListCreateApi(generics.ListAPIView):
    """Staff: customers (users who are not staff), `?search=` over username, email and
    phone, `?segment=` (slug or id), `?is_active=`; and create one."""

    serializer_class = CustomerSerializer
    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(query_serializer=CustomerFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = CustomerFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return customer_list(**filters.validated_data)

    @swagger_auto_schema(request_body=CustomerCreateSerializer,
                         responses={201: CustomerSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = customer_register(created_by=request.user, **serializer.validated_data)
        return Response(CustomerSerializer(_customer_get(user.pk)).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(APIView):
    """Staff: one customer with balance, currency, segment and location; PATCH changes the
    names, email, phone, segment, location, timezone, email opt-out (each location change
    recorded)."""

    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(responses={200: CustomerSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(CustomerSerializer(_customer_get(pk)).data)

    @swagger_auto_schema(request_body=StaffProfileUpdateSerializer,
                         responses={200: CustomerSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                                    409: ErrorSerializer})
    def patch(self, request, pk: int):
        _staff_profile_update(request, _customer_get(pk))
        return Response(CustomerSerializer(_customer_get(pk)).data)


class CustomerDeactivateApi(APIView):
    """Staff: the customer can no longer log in; their tokens are refused from now on."""

    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(request_body=EmptySerializer, responses={200: CustomerSerializer, 404: ErrorSerializer})
    def post(self, request, pk: int):
        customer = _customer_get(pk)
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        customer_deactivate(user_id=customer.pk, operator_id=request.user.pk)
        return Response(CustomerSerializer(_customer_get(pk)).data)


class CustomerTopUpApi(APIView):
    """Staff: credit a customer's balance. One `top_up` ledger row naming the operator and
    the reason, and an entry in the account's admin history."""

    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(request_body=TopUpSerializer,
                         responses={200: TopUpResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer,
                                    409: ErrorSerializer})
    def post(self, request, pk: int):
        customer = _customer_get(pk)
        serializer = TopUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = account_top_up_by_operator(user_id=customer.pk, operator_id=request.user.pk,
                                           **serializer.validated_data)
        return Response(TopUpResultSerializer({"balance": entry.balance_after, "currency": entry.account.currency,
                                               "amount": entry.amount, "ledger_entry_id": entry.pk}).data)


class SegmentListCreateApi(generics.ListAPIView):
    """Customer segments. Everyone signed in may list them (a customer sees slug and name);
    staff also create them."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.IsAdminUser()]
        return [permissions.IsAuthenticated()]

    def get_serializer_class(self):
        if getattr(self, "swagger_fake_view", False) or self.request.user.is_staff:
            return SegmentSerializer
        return SegmentPublicSerializer

    def get_queryset(self):
        return segment_list()

    @swagger_auto_schema(request_body=SegmentWriteSerializer,
                         responses={201: SegmentSerializer, 400: ErrorSerializer, 403: ErrorSerializer})
    def post(self, request):
        serializer = SegmentWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_create(operator_id=request.user.pk, **serializer.validated_data)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailApi(APIView):
    """Staff: one segment. Deleting a segment that campaigns or promotions target is a 409."""

    permission_classes = [permissions.IsAdminUser]

    def _get(self, pk: int):
        segment = segment_list().filter(pk=pk).first()
        if segment is None:
            raise NotFound("No such segment.")
        return segment

    @swagger_auto_schema(responses={200: SegmentSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(SegmentSerializer(self._get(pk)).data)

    @swagger_auto_schema(request_body=SegmentWriteSerializer,
                         responses={200: SegmentSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @swagger_auto_schema(request_body=SegmentWriteSerializer,
                         responses={200: SegmentSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        segment = self._get(pk)
        serializer = SegmentWriteSerializer(segment, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        segment_update(segment=segment, operator_id=request.user.pk, **serializer.validated_data)
        return Response(SegmentSerializer(self._get(pk)).data)

    @swagger_auto_schema(responses={204: "Deleted", 404: ErrorSerializer, 409: ErrorSerializer})
    def delete(self, request, pk: int):
        segment_delete(segment_id=self._get(pk).pk, operator_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileListApi(generics.ListAPIView):
    """Staff: every profile (`?segment=` slug or id)."""

    serializer_class = ProfileDetailSerializer
    permission_classes = [permissions.IsAdminUser]

    @swagger_auto_schema(query_serializer=ProfileFilterSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = ProfileFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return profile_list(**filters.validated_data)


class ProfileMeApi(APIView):
    """My own profile (the same as `users/profiles/{my id}/`)."""

    @swagger_auto_schema(responses={200: ProfileDetailSerializer})
    def get(self, request):
        return Response(ProfileDetailSerializer(profile_get_or_create(user=request.user)).data)

    @swagger_auto_schema(request_body=ProfileUpdateSerializer,
                         responses={200: ProfileDetailSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                                    409: ErrorSerializer},
                         operation_description="Latitude and longitude are set by staff only (403 "
                                               "`location_set_by_staff`); a segment only by staff.")
    def patch(self, request):
        return Response(ProfileDetailSerializer(_own_profile_update(request)).data)


class ProfileDetailApi(APIView):
    """Staff: any profile, and they may change its segment and location as well. A customer:
    only their own (any other id is a 404), with what `users/profiles/me/` allows."""

    def _get(self, request, pk: int) -> CustomerProfile:
        profiles = profile_list()
        if not request.user.is_staff:
            profiles = profiles.filter(user=request.user)
        profile = profiles.filter(pk=pk).first()
        if profile is None:
            raise NotFound("No such profile.")
        return profile

    @swagger_auto_schema(responses={200: ProfileDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(ProfileDetailSerializer(self._get(request, pk)).data)

    @swagger_auto_schema(request_body=StaffProfileUpdateSerializer,
                         responses={200: ProfileDetailSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                                    404: ErrorSerializer, 409: ErrorSerializer},
                         operation_description="`segment`, `latitude` and `longitude`: staff only (a customer "
                                               "sending a location gets 403 `location_set_by_staff`; a segment "
                                               "is an unknown field for them). A segment is named by its slug "
                                               "everywhere; ids are accepted too.")
    def patch(self, request, pk: int):
        profile = self._get(request, pk)
        if request.user.is_staff:
            _staff_profile_update(request, profile.user)
        else:
            _own_profile_update(request)
        return Response(ProfileDetailSerializer(self._get(request, pk)).data)
