from django.urls import path

from offers.campaigns.api import views

urlpatterns = [
    path("campaigns/", views.CampaignListCreateApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", views.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/status/", views.CampaignStatusApi.as_view(), name="campaign-status"),
    path("discounts/available/", views.DiscountsAvailableApi.as_view(), name="discounts-available"),
    path("discounts/redeem/", views.discount_redeem_view, name="discounts-redeem"),
    path("discounts/usage/", views.DiscountUsageApi.as_view(), name="discounts-usage"),
    path("codes/validate/", views.CodeValidateApi.as_view(), name="codes-validate"),
]
