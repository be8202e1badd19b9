from django.urls import path

from offers.api import views

urlpatterns = [
    path("offers/", views.OfferListApi.as_view(), name="offer-list"),
    path("offers/expiring/", views.OfferExpiringApi.as_view(), name="offer-expiring"),
    path("offers/renew/", views.OfferRenewApi.as_view(), name="offer-renew"),
    path("offers/<int:pk>/", views.OfferDetailApi.as_view(), name="offer-detail"),
    path("activation/", views.offer_activate_view, name="activation"),
    path("account/subscriptions/", views.SubscriptionListApi.as_view(), name="subscription-list"),
    path("account/subscriptions/<int:pk>/", views.SubscriptionDetailApi.as_view(), name="subscription-detail"),
    path("account/subscriptions/<int:pk>/cancel/", views.SubscriptionCancelApi.as_view(),
         name="subscription-cancel"),
]
