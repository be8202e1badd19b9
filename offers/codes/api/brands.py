"""Brands and their members. Platform staff list, create and rename brands and add or remove
members; a brand member sees the brands they belong to and who else is in them; anyone
else sees no brand (an empty list, 404 on a detail). What a member manages: offers/merchants.py."""
from django.urls import path
from drf_yasg.utils import swagger_auto_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator
from rest_framework.views import APIView

from accounts.models import User
from accounts.selectors import user_by_login
from kernel.api import ErrorSerializer, StrictSerializer
from offers.codes.models import Brand
from offers.codes.services import brand_create, brand_member_add, brand_member_remove, brand_update
from offers.merchants import IsPlatformStaffOrReadOnly, brands_managed_by, managed_get

BRAND_NAME = {"max_length": 120, "validators": [UniqueValidator(Brand.objects.all(), message="A brand with this "
                                                                                           "name exists.")]}
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class BrandMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email"]


class BrandSerializer(serializers.ModelSerializer):
    members = BrandMemberSerializer(source="staff", many=True, read_only=True)

    class Meta:
        model = Brand
        fields = ["id", "name", "members", "created_at"]


class BrandCreateSerializer(StrictSerializer):
    name = serializers.CharField(**BRAND_NAME)
    member_ids = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True), many=True,
                                                    required=False,
                                                    help_text="Users who manage the brand's objects from the start.")


class BrandUpdateSerializer(StrictSerializer):
    name = serializers.CharField(**BRAND_NAME)


class BrandMemberAddSerializer(StrictSerializer):
    user_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    username = serializers.CharField(max_length=254, required=False, help_text="A username or an email address.")

    def validate(self, attrs):
        if ("user_id" in attrs) == ("username" in attrs):
            raise serializers.ValidationError({"user_id": ["Give exactly one of user_id and username."]})
        if "user_id" in attrs:
            user = User.objects.filter(pk=attrs["user_id"]).first()
        else:
            user = user_by_login(login=attrs["username"])
        if user is None or not user.is_active:
            raise serializers.ValidationError({"user": ["Unknown user."]}, code="unknown_user")
        return {"user": user}


def _brands(user):
    return brands_managed_by(user=user).prefetch_related("staff").order_by("name")


def _brand_get(request, pk: int) -> Brand:
    return managed_get(_brands(request.user), user=request.user, pk=pk, message="No such brand.")


class BrandListCreateApi(generics.ListAPIView):
    """The brands I may see (platform staff: all; a brand member: theirs; anyone else: none);
    POST (platform staff): a new brand, optionally with its first members."""

    serializer_class = BrandSerializer
    permission_classes = [IsPlatformStaffOrReadOnly]

    def get_queryset(self):
        return _brands(self.request.user)

    @swagger_auto_schema(request_body=BrandCreateSerializer, responses={201: BrandSerializer, **ERRORS})
    def post(self, request):
        serializer = BrandCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        brand = brand_create(name=data["name"], staff_ids=[u.pk for u in data.get("member_ids", [])],
                             operator_id=request.user.pk)
        return Response(BrandSerializer(_brand_get(request, brand.pk)).data, status=status.HTTP_201_CREATED)


class BrandDetailApi(APIView):
    """A brand I may see, with its members (another brand: 404); renaming: platform staff."""

    permission_classes = [IsPlatformStaffOrReadOnly]

    @swagger_auto_schema(responses={200: BrandSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(BrandSerializer(_brand_get(request, pk)).data)

    @swagger_auto_schema(request_body=BrandUpdateSerializer, responses={200: BrandSerializer, **ERRORS})
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @swagger_auto_schema(request_body=BrandUpdateSerializer, responses={200: BrandSerializer, **ERRORS})
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: int, *, partial: bool):
        brand = _brand_get(request, pk)
        serializer = BrandUpdateSerializer(brand, data=request.data, partial=partial)  # instance: its own name is free
        serializer.is_valid(raise_exception=True)
        brand_update(brand=brand, operator_id=request.user.pk, **serializer.validated_data)
        return Response(BrandSerializer(_brand_get(request, pk)).data)


class BrandMembersApi(APIView):
    """GET: the brand's members (a member sees their co-members). POST (platform staff):
    `{user_id}` or `{username}` (a username or an email address) becomes a member: 201, or
    200 if they already were. A member manages the brand's campaigns, stores, products,
    flash promos and code pools, and never gets the Django admin."""

    permission_classes = [IsPlatformStaffOrReadOnly]

    @swagger_auto_schema(responses={200: BrandMemberSerializer(many=True), **ERRORS})
    def get(self, request, pk: int):
        return Response(BrandMemberSerializer(_brand_get(request, pk).staff.order_by("pk"), many=True).data)

    @swagger_auto_schema(request_body=BrandMemberAddSerializer,
                         responses={201: BrandSerializer, 200: BrandSerializer, **ERRORS})
    def post(self, request, pk: int):
        brand = _brand_get(request, pk)
        serializer = BrandMemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added = brand_member_add(brand=brand, user_id=serializer.validated_data["user"].pk,
                                 operator_id=request.user.pk)
        return Response(BrandSerializer(_brand_get(request, pk)).data,
                        status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


class BrandMemberApi(APIView):
    """DELETE (platform staff): the user is no longer a member (204); not a member: 404."""

    permission_classes = [IsPlatformStaffOrReadOnly]

    @swagger_auto_schema(responses={204: "Removed", 401: ErrorSerializer, 403: ErrorSerializer,
                                    404: ErrorSerializer})
    def delete(self, request, pk: int, user_id: int):
        if not brand_member_remove(brand=_brand_get(request, pk), user_id=user_id, operator_id=request.user.pk):
            raise NotFound("Not a member of this brand.")
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("brands/", BrandListCreateApi.as_view(), name="brand-list"),
    path("brands/<int:pk>/", BrandDetailApi.as_view(), name="brand-detail"),
    path("brands/<int:pk>/members/", BrandMembersApi.as_view(), name="brand-members"),
    path("brands/<int:pk>/members/<int:user_id>/", BrandMemberApi.as_view(), name="brand-member"),
]
