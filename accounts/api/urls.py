from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/login/", views.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh/", views.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", views.LogoutApi.as_view(), name="auth-logout"),
    path("auth/register/", views.RegisterApi.as_view(), name="auth-register"),
    path("auth/profile/", views.ProfileApi.as_view(), name="auth-profile"),
    path("account/balance/", views.BalanceApi.as_view(), name="account-balance"),
    path("account/ledger/", views.LedgerApi.as_view(), name="account-ledger"),
    path("customers/", views.CustomerListCreateApi.as_view(), name="customer-list"),
    path("customers/<int:pk>/", views.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<int:pk>/deactivate/", views.CustomerDeactivateApi.as_view(), name="customer-deactivate"),
    path("customers/<int:pk>/top-up/", views.CustomerTopUpApi.as_view(), name="customer-topup"),
    path("users/segments/", views.SegmentListCreateApi.as_view(), name="segment-list"),
    path("users/segments/<int:pk>/", views.SegmentDetailApi.as_view(), name="segment-detail"),
    path("users/profiles/", views.ProfileListApi.as_view(), name="profile-list"),
    path("users/profiles/me/", views.ProfileMeApi.as_view(), name="profile-me"),
    path("users/profiles/<int:pk>/", views.ProfileDetailApi.as_view(), name="profile-detail"),
]
