from django.urls import path

from offers.flash.api import views

urlpatterns = [
    path("market/stores/", views.StoreListCreateApi.as_view(), name="store-list"),
    path("market/stores/<int:pk>/", views.StoreDetailApi.as_view(), name="store-detail"),
    path("market/products/", views.ProductListCreateApi.as_view(), name="product-list"),
    path("market/products/<int:pk>/", views.ProductDetailApi.as_view(), name="product-detail"),
    path("promotions/flash-promos/", views.FlashPromoListCreateApi.as_view(), name="flash-promo-list"),
    path("promotions/flash-promos/eligible/", views.FlashPromoEligibleApi.as_view(), name="flash-promo-eligible"),
    path("promotions/flash-promos/running/", views.FlashPromoRunningApi.as_view(), name="flash-promo-running"),
    path("promotions/flash-promos/<int:pk>/", views.FlashPromoDetailApi.as_view(), name="flash-promo-detail"),
    path("promotions/reservations/", views.reservation_list_create_view, name="reservation-list"),
    path("promotions/reservations/<int:pk>/complete/", views.ReservationCompleteApi.as_view(),
         name="reservation-complete"),
]
