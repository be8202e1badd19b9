from django.urls import path

from offers.codes.api import views

urlpatterns = [
    path("codes/pools/", views.CodePoolListCreateApi.as_view(), name="code-pool-list"),
    path("codes/pools/<int:pk>/", views.CodePoolDetailApi.as_view(), name="code-pool-detail"),
    path("codes/pools/<int:pk>/claim/", views.code_claim_view, name="code-pool-claim"),
    path("codes/pools/<int:pk>/grant/", views.CodeGrantApi.as_view(), name="code-pool-grant"),
    path("codes/pools/open/", views.CodePoolOpenApi.as_view(), name="code-pool-open"),
    path("codes/pools/<int:pk>/export.csv", views.CodePoolExportApi.as_view(), name="code-pool-export"),
    path("codes/mine/", views.MyCodesApi.as_view(), name="code-mine"),
]
