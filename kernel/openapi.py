"""drf-yasg schema classes: every operation documents the error shape and the limits of the
pagination parameters, path parameters are typed by their URL converters (kept apart from
kernel.api, which DRF imports while drf-yasg is still importing DRF)."""
import re

from drf_yasg import openapi
from drf_yasg.app_settings import swagger_settings
from drf_yasg.generators import EndpointEnumerator, OpenAPISchemaGenerator
from drf_yasg.inspectors import FieldInspector, NotHandled, SwaggerAutoSchema
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


class ErrorAwareAutoSchema(SwaggerAutoSchema):
    """Every operation documents the shared error body for the statuses it can return."""

    field_inspectors = [DecimalStringInspector, *swagger_settings.DEFAULT_FIELD_INSPECTORS]

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        codes = ["400", "429"]
        if self.get_security() != []:  # noqa: PLC1901 - [] means explicitly public
            codes += ["401", "403"]
        if "{" in self.path or self.should_page():  # a page past the last one is a 404
            codes.append("404")
        for code in codes:
            responses.setdefault(code, ErrorSerializer)
        return responses

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
    UUID (drf-yasg types a path parameter from a model field it can find, else as a string)."""

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

    def get_path_parameters(self, path, view_cls):
        parameters = super().get_path_parameters(path, view_cls)
        # drf-yasg renames {pk} to the primary key's name ({id}) after enumerating.
        converters = self.converters.get(path) or self.converters.get(path.replace("{id}", "{pk}"), {})
        for parameter in parameters:
            converter = converters.get(parameter.name) or (converters.get("pk") if parameter.name == "id" else None)
            for key, value in PATH_CONVERTER_SCHEMAS.get(converter, {}).items():
                parameter[key] = value
        return parameters
