from django.urls import include, path

from monitoring import views

urlpatterns = [
    path("health/", views.health_view, name="health"),
    path("ready/", views.ready_view, name="ready"),
    path("", include("django_prometheus.urls")),
]
