"""API paths without their trailing slash are served as if they had it.

Django's APPEND_SLASH answers `POST /api/v1/campaigns` with a 301 to `/api/v1/campaigns/`;
HTTP clients follow a 301 as a GET, so the POST came back 200 with the list and created
nothing. Under /api/v1/ this middleware instead routes the request to the slashed view
(every method, body untouched), when the slashed path resolves and the path as sent does
not. Only `path_info` changes, the URL the resolver reads: `request.path` stays as sent, so
a partner's signature over the path it sent still verifies. Elsewhere (the admin, the docs)
CommonMiddleware's APPEND_SLASH redirect is left as it is."""
from django.urls import is_valid_path

from kernel.middleware import SyncAndAsyncMiddleware

API_PREFIX = "/api/v1/"


class ApiTrailingSlashMiddleware(SyncAndAsyncMiddleware):
    def handle(self, request):
        api_path_slash_append(request)
        return self.get_response(request)

    async def ahandle(self, request):
        api_path_slash_append(request)
        return await self.get_response(request)


def api_path_slash_append(request) -> None:
    """Only a path that does not resolve as sent and does with a slash is changed."""
    path = request.path_info
    if not path.startswith(API_PREFIX) or path.endswith("/"):
        return
    urlconf = getattr(request, "urlconf", None)
    if not is_valid_path(path, urlconf) and is_valid_path(path + "/", urlconf):
        request.path_info = path + "/"
