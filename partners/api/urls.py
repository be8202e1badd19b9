from django.urls import path

from partners.api.views import PartnerActivateApi, PartnerReverseApi, PartnerValidateApi

urlpatterns = [
    path("partner/activate/", PartnerActivateApi.as_view(), name="partner-activate"),
    path("partner/validate/<str:reference>/", PartnerValidateApi.as_view(), name="partner-validate"),
    path("partner/reverse/<str:reference>/", PartnerReverseApi.as_view(), name="partner-reverse"),
]
