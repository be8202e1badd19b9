from django.urls import path

from activation.api import views

urlpatterns = [
    path("activation/status/<uuid:transaction_id>/", views.transaction_status_view, name="transaction-status"),
    path("account/transactions/", views.TransactionListApi.as_view(), name="transaction-list"),
    path("account/transactions/<uuid:transaction_id>/", views.TransactionDetailApi.as_view(),
         name="transaction-detail"),
    path("account/transactions/<uuid:transaction_id>/reverse/", views.TransactionReverseApi.as_view(),
         name="transaction-reverse"),
]

# drf-yasg documents DRF views only; the docs see the synchronous twin of the async view.
doc_urlpatterns = [
    path("activation/status/<uuid:transaction_id>/", views.TransactionStatusApi.as_view()),
    *urlpatterns[1:],
]
