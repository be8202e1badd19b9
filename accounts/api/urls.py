from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/login/", views.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh/", views.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/profile/", views.ProfileApi.as_view(), name="auth-profile"),
    path("account/balance/", views.BalanceApi.as_view(), name="account-balance"),
]
