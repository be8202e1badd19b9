from django.urls import path

from partners.api.views import PartnerActivateApi, PartnerValidateApi

urlpatterns = [
    path("partner/activate/", PartnerActivateApi.as_view(), name="partner-activate"),
    path("partner/validate/<str:reference>/", PartnerValidateApi.as_view(), name="partner-validate"),
]
