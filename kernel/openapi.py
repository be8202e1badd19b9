"""drf-yasg schema classes: every operation has a clean id and a title, documents every
status it can answer in the error shape and the limits of the pagination parameters, names
the security it takes; path parameters are typed by their URL converters (kept apart from
kernel.api, which DRF imports while drf-yasg is still importing DRF)."""
import re

from drf_yasg import openapi
from drf_yasg.app_settings import swagger_settings
from drf_yasg.generators import EndpointEnumerator, OpenAPISchemaGenerator
from drf_yasg.inspectors import DjangoRestResponsePagination, FieldInspector, NotHandled, SwaggerAutoSchema
from drf_yasg.utils import decimal_as_float
from rest_framework import serializers

from kernel.api import ErrorSerializer


class DecimalStringInspector(FieldInspector):
    """A decimal (money, coordinates) is a string of at most `max_digits` digits, of which
    `decimal_places` after the point; signed only if it may be negative. (The parser also
    takes a JSON number, an exponent or a leading `+`: clients need not send them.)"""

    def field_to_swagger_object(self, field, swagger_object_type, use_references, **kwargs):
        if not isinstance(field, serializers.DecimalField) or decimal_as_float(field):
            return NotHandled
        swagger_type, _ = self._get_partial_types(field, swagger_object_type, use_references, **kwargs)
        places = field.decimal_places
        whole = "+" if field.max_digits is None else f"{{1,{field.max_digits - places}}}"
        sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
        fraction = rf"(\.\d{{1,{places}}})?" if places else ""
        return swagger_type(type=openapi.TYPE_STRING, pattern=rf"^{sign}\d{whole}{fraction}$")


_RETRY_AFTER = openapi.Schema(type=openapi.TYPE_INTEGER, description="Seconds to wait before retrying.")
# What each error status means wherever an operation does not say more (kernel.errors maps them).
ERROR_STATUSES = {
    "400": "Invalid request: `details` lists the errors per field.",
    "401": "Not authenticated: credentials missing, invalid or expired.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such resource (or a page past the last one).",
    "409": "The resource is in a state that does not allow this.",
    "413": "`payload_too_large`: the body is over the size limit.",
    "415": "`unsupported_media_type`: the body is not `application/json`.",
    "422": "`idempotency_key_reused`: the key was already used with another body.",
    "429": "`throttled`: too many requests; retry after `Retry-After` seconds.",
    "503": "`service_unavailable`: PostgreSQL or Redis is unavailable; retry after `Retry-After` seconds.",
}
RETRY_AFTER_STATUSES = {"429", "503"}
SUCCESS_STATUSES = {"200": "OK.", "201": "Created.", "202": "Accepted: a worker settles it.", "204": "No content."}

# The title of each operation, by operation id (ReDoc and Swagger UI list operations by it).
SUMMARIES = {
    "account_balance_list": "My balance",
    "account_ledger_list": "My ledger (statement)",
    "account_subscriptions_list": "My subscriptions",
    "account_subscriptions_read": "One of my subscriptions",
    "account_subscriptions_partial_update": "Turn a subscription's auto-renewal on or off",
    "account_subscriptions_cancel_create": "Cancel a subscription",
    "account_transactions_list": "My transactions",
    "account_transactions_read": "One of my transactions",
    "account_transactions_reverse_create": "Reverse a transaction",
    "activation_create": "Activate an offer (202)",
    "activation_status_read": "Poll a transaction's status (long-poll with ?wait=)",
    "auth_login_create": "Log in: an access and a refresh token",
    "auth_logout_create": "Log out: revoke a refresh token",
    "auth_profile_list": "My profile",
    "auth_profile_partial_update": "Update my profile",
    "auth_refresh_create": "Refresh an access token",
    "auth_register_create": "Register a customer account",
    "brands_list": "List brands",
    "brands_create": "Create a brand",
    "brands_read": "Get a brand",
    "brands_update": "Replace a brand",
    "brands_partial_update": "Update a brand",
    "brands_members_list": "List a brand's members",
    "brands_members_create": "Add a member to a brand",
    "brands_members_delete": "Remove a member from a brand",
    "campaigns_list": "List campaigns",
    "campaigns_create": "Create a campaign",
    "campaigns_read": "Get a campaign",
    "campaigns_update": "Replace a campaign",
    "campaigns_partial_update": "Update a campaign",
    "campaigns_delete": "Delete a campaign",
    "campaigns_status_partial_update": "Activate, pause or end a campaign",
    "codes_mine_list": "My discount codes",
    "codes_pools_list": "List code pools",
    "codes_pools_create": "Create a code pool",
    "codes_pools_open_list": "Code pools I may claim from",
    "codes_pools_read": "Get a code pool",
    "codes_pools_claim_create": "Claim a code from a pool (202)",
    "codes_pools_export_csv": "Export a pool's codes as CSV",
    "codes_pools_grant_create": "Grant a code to a customer (202)",
    "codes_validate_create": "Check a discount code against a cart",
    "customers_list": "List customers",
    "customers_create": "Create a customer",
    "customers_read": "Get a customer",
    "customers_partial_update": "Update a customer",
    "customers_deactivate_create": "Deactivate a customer",
    "customers_top_up_create": "Top up a customer's balance",
    "discounts_available_create": "Discounts available for a cart",
    "discounts_redeem_create": "Redeem discounts in an order (202)",
    "discounts_usage_list": "List discount redemptions",
    "market_products_list": "List products",
    "market_products_create": "Create a product",
    "market_products_read": "Get a product",
    "market_products_update": "Replace a product",
    "market_products_partial_update": "Update a product",
    "market_products_delete": "Delete a product",
    "market_stores_list": "List stores",
    "market_stores_create": "Create a store",
    "market_stores_read": "Get a store",
    "market_stores_update": "Replace a store",
    "market_stores_partial_update": "Update a store",
    "market_stores_delete": "Delete a store",
    "notifications_list": "My notifications",
    "notifications_read_all_create": "Mark all my notifications read",
    "notifications_read_create": "Mark a notification read",
    "offers_list": "List offers",
    "offers_expiring_list": "My subscriptions expiring soon",
    "offers_renew_create": "Renew a subscription (202)",
    "offers_read": "Get an offer",
    "partner_activate_create": "Partner: activate an offer for a customer (202)",
    "partner_reverse_create": "Partner: reverse an activation",
    "partner_validate_read": "Partner: look up an activation by reference",
    "promotions_flash_promos_list": "List flash promos",
    "promotions_flash_promos_create": "Create a flash promo",
    "promotions_flash_promos_eligible_list": "Flash promos I may reserve",
    "promotions_flash_promos_running_list": "Running flash promos",
    "promotions_flash_promos_read": "Get a flash promo",
    "promotions_flash_promos_update": "Replace a flash promo",
    "promotions_flash_promos_partial_update": "Update a flash promo",
    "promotions_flash_promos_delete": "Delete a flash promo",
    "promotions_reservations_list": "My flash reservations",
    "promotions_reservations_create": "Reserve a flash promo unit (202)",
    "promotions_reservations_complete_create": "Complete (buy) a reservation",
    "users_profiles_list": "List customer profiles",
    "users_profiles_me_list": "My customer profile",
    "users_profiles_me_partial_update": "Update my customer profile",
    "users_profiles_read": "Get a customer profile",
    "users_profiles_partial_update": "Update a customer profile",
    "users_segments_list": "List customer segments",
    "users_segments_create": "Create a customer segment",
    "users_segments_read": "Get a customer segment",
    "users_segments_update": "Replace a customer segment",
    "users_segments_partial_update": "Update a customer segment",
    "users_segments_delete": "Delete a customer segment",
}


def _operation_id_clean(operation_id: str) -> str:
    """An identifier every client generator takes as a method name: `customers_top-up_create`
    becomes `customers_top_up_create`."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", operation_id)


class NamedPageInspector(DjangoRestResponsePagination):
    """A page of `<Item>` is the definition `<Item>Page`, not an inline schema that each
    generator names after the operation (`AccountLedgerList200Response`)."""

    def get_paginated_response(self, paginator, response_schema):
        page = super().get_paginated_response(paginator, response_schema)
        item_ref = (response_schema.get("items") or {}).get("$ref", "")
        if page is response_schema or not item_ref:
            return page
        name = item_ref.rsplit("/", 1)[-1] + "Page"
        definitions = self.components.with_scope(openapi.SCHEMA_DEFINITIONS)
        definitions.setdefault(name, lambda: page)
        return openapi.SchemaRef(definitions, name)


class ErrorAwareAutoSchema(SwaggerAutoSchema):
    """Every operation documents the shared error body for the statuses it can return, a
    title, and the security its authentication classes take."""

    field_inspectors = [DecimalStringInspector, *swagger_settings.DEFAULT_FIELD_INSPECTORS]
    paginator_inspectors = [NamedPageInspector, *swagger_settings.DEFAULT_PAGINATOR_INSPECTORS]

    def get_operation_id(self, operation_keys=None):
        return _operation_id_clean(super().get_operation_id(operation_keys))

    def get_summary_and_description(self):
        summary, description = super().get_summary_and_description()
        if not self.overrides.get("operation_summary"):
            operation_id = self.get_operation_id()
            summary = SUMMARIES.get(operation_id) or operation_id.replace("_", " ").capitalize()
        return summary, description

    def get_security(self):
        """An authentication class may name its requirement in `openapi_security` (the
        partners' signature; ConverterAwareGenerator adds its definitions); any other
        inherits the document's (Bearer)."""
        security = super().get_security()
        if security is not None:
            return security
        requirements = [cls.openapi_security for cls in getattr(self.view, "authentication_classes", [])
                        if getattr(cls, "openapi_security", None)]
        return requirements or None

    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        codes = ["400", "429", "503"]
        if self.get_security() != []:  # noqa: PLC1901 - [] means explicitly public
            codes += ["401", "403"]
        if "{" in self.path or self.should_page():  # a page past the last one is a 404
            codes.append("404")
        if self.takes_body():  # kernel.body_limit (413); LimitedJSONParser is the only parser (415)
            codes += ["413", "415"]
        for code in codes:
            responses.setdefault(code, ErrorSerializer)
        return responses

    def get_response_schemas(self, response_serializers):
        responses = super().get_response_schemas(response_serializers)
        for code, response in responses.items():
            if not response.get("description"):
                response["description"] = ERROR_STATUSES.get(code) or SUCCESS_STATUSES.get(code, "")
            if code in RETRY_AFTER_STATUSES:
                response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
        return dict(sorted(responses.items()))

    def get_pagination_parameters(self):
        """`page` from 1 (past the last page: 404); `page_size` within the paginator's bounds
        (outside them: 400), as kernel.api.StandardPagination enforces them."""
        parameters = super().get_pagination_parameters()
        paginator = getattr(self.view, "paginator", None)
        for parameter in parameters:
            if parameter.name == getattr(paginator, "page_query_param", None):
                parameter.minimum = 1
            elif parameter.name == getattr(paginator, "page_size_query_param", None):
                parameter.minimum, parameter.maximum = 1, paginator.max_page_size
        return parameters


# What a path converter accepts, as a parameter schema (the URI template drops the converter).
PATH_CONVERTER_SCHEMAS = {"int": {"type": openapi.TYPE_INTEGER, "minimum": 0},
                          "uuid": {"type": openapi.TYPE_STRING, "format": openapi.FORMAT_UUID}}
_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>\w+)>")


class ConverterAwareGenerator(OpenAPISchemaGenerator):
    """Types path parameters by their URL converters: `<int:pk>` is an integer, `<uuid:…>` a
    UUID (drf-yasg types a path parameter from a model field it can find, else as a string).
    Adds the security definitions the views' authentication classes declare
    (`openapi_security_definitions`) and small examples to integer properties."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.converters: dict[str, dict[str, str]] = {}  # URI template → {parameter: converter}

    def endpoint_enumerator_class(self, *args, **kwargs):  # called where drf-yasg expects a class
        enumerator = EndpointEnumerator(*args, **kwargs)
        path_from_regex = enumerator.get_path_from_regex

        def recording(path_regex):
            path = path_from_regex(path_regex)
            self.converters[path] = {m["parameter"]: m["converter"] for m in _CONVERTER.finditer(path_regex)}
            return path

        enumerator.get_path_from_regex = recording
        return enumerator

    def get_paths(self, endpoints, components, request, public):
        self.declared_security = {}  # by the views' authentication classes
        for view_cls, _ in endpoints.values():
            for authentication in getattr(view_cls, "authentication_classes", []):
                self.declared_security.update(getattr(authentication, "openapi_security_definitions", {}))
        return super().get_paths(endpoints, components, request, public)

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request, public)
        schema["securityDefinitions"] = {**schema.get("securityDefinitions", {}), **self.declared_security}
        _integer_examples(schema["definitions"])
        return schema

    def get_path_parameters(self, path, view_cls):
        parameters = super().get_path_parameters(path, view_cls)
        # drf-yasg renames {pk} to the primary key's name ({id}) after enumerating.
        converters = self.converters.get(path) or self.converters.get(path.replace("{id}", "{pk}"), {})
        for parameter in parameters:
            converter = converters.get(parameter.name) or (converters.get("pk") if parameter.name == "id" else None)
            for key, value in PATH_CONVERTER_SCHEMAS.get(converter, {}).items():
                parameter[key] = value
        return parameters


def _integer_examples(node) -> None:
    """An integer property without an example gets its smallest sensible value (1, or its
    minimum), so the docs and generated clients show `1`, not the `maximum` 2147483647."""
    if isinstance(node, dict):
        if node.get("type") == openapi.TYPE_INTEGER and "example" not in node:
            node["example"] = max(node.get("minimum", 1), 1)
        for value in node.values():
            _integer_examples(value)
    elif isinstance(node, list):
        for value in node:
            _integer_examples(value)
