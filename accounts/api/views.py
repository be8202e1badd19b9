from django.db import IntegrityError
from drf_yasg.utils import swagger_auto_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.api.serializers import (BalanceSerializer, LoginSerializer, ProfileSerializer,
                                      ProfileUpdateSerializer, TokenPairSerializer)
from accounts.services import account_of_customer, profile_get_or_create, profile_update
from config.api import ErrorSerializer
from config.errors import ConflictError


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

    @swagger_auto_schema(request_body=ProfileUpdateSerializer, responses={200: ProfileSerializer})
    def patch(self, request):
        serializer = ProfileUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            profile = profile_update(user=request.user, **serializer.validated_data)
        except IntegrityError:
            raise ConflictError("That email or phone number was just taken.", code="profile_conflict")
        return Response(ProfileSerializer(profile).data)


class BalanceApi(APIView):
    @swagger_auto_schema(responses={200: BalanceSerializer})
    def get(self, request):
        return Response(BalanceSerializer(account_of_customer(user=request.user)).data)
