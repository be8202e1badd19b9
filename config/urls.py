from django.contrib import admin
from django.urls import include, path, re_path
from drf_yasg import openapi
from drf_yasg.views import get_schema_view
from rest_framework import permissions

from accounts.api.urls import urlpatterns as accounts_api
from activation.api.urls import doc_urlpatterns as activation_api_docs
from activation.api.urls import urlpatterns as activation_api
from kernel.admin import ADMIN_SITE_HEADER, ADMIN_SITE_TITLE, admin_login_throttled, admin_operator_links
from kernel.openapi import ConverterAwareGenerator
from notifications.api.urls import urlpatterns as notifications_api
from offers.api.urls import urlpatterns as offers_api
from offers.campaigns.api.urls import urlpatterns as campaigns_api
from offers.codes.api.urls import urlpatterns as codes_api
from offers.codes.api.brands import urlpatterns as brands_api
from offers.flash.api.urls import urlpatterns as flash_api
from partners.api.urls import urlpatterns as partners_api

domain_api = [*accounts_api, *offers_api, *campaigns_api, *codes_api, *brands_api, *flash_api, *partners_api,
              *notifications_api]
api_v1 = [*domain_api, *activation_api]
api_v1_docs = [*domain_api, *activation_api_docs]

schema_view = get_schema_view(
    openapi.Info(
        title="Offers & Activation Platform API",
        default_version="v1",
        description="Every request that moves money, budget, stock or quota is accepted with **202** and a "
                    "transaction id, settled by a worker, and polled at `activation/status/{id}/`. "
                    'Errors always have the shape `{"code", "message", "details"}`.',
    ),
    public=True,
    generator_class=ConverterAwareGenerator,
    permission_classes=[permissions.AllowAny],
    patterns=[path("api/v1/", include(api_v1_docs))],
)

# Before admin.site.urls is built: its "login/" route takes the site's (now throttled) login view.
admin.site.login = admin_login_throttled(admin.site.login)
admin.site.site_header = ADMIN_SITE_HEADER
admin.site.site_title = ADMIN_SITE_TITLE
admin.site.index_title = "Operations"
# The service has no web site of its own: "View site" opens the API docs.
admin.site.site_url = "/swagger/"
admin.site.index_template = "admin/operator_index.html"
_admin_index = admin.site.index


def _admin_index_with_links(request, extra_context=None):
    return _admin_index(request, {**(extra_context or {}), "operator_links": admin_operator_links()})


admin.site.index = _admin_index_with_links

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    re_path(r"^swagger(?P<format>\.json|\.yaml)$", schema_view.without_ui(cache_timeout=0), name="schema-json"),
    path("swagger/", schema_view.with_ui("swagger", cache_timeout=0), name="schema-swagger-ui"),
    path("redoc/", schema_view.with_ui("redoc", cache_timeout=0), name="schema-redoc"),
    path("", include("monitoring.urls")),
]

handler400 = "kernel.errors.handler400"
handler403 = "kernel.errors.handler403"
handler404 = "kernel.errors.handler404"
handler500 = "kernel.errors.handler500"
