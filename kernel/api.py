"""Shared API plumbing: strict JSON parsing, pagination and serializers for the common bodies."""
import json
import zoneinfo
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser

from kernel.errors import PayloadTooLarge
from kernel.text import ascii_digits


def _json_depth(value, depth: int = 1) -> int:
    if isinstance(value, dict):
        return max([_json_depth(v, depth + 1) for v in value.values()] or [depth])
    if isinstance(value, list):
        return max([_json_depth(v, depth + 1) for v in value] or [depth])
    return depth


class LimitedJSONParser(JSONParser):
    """JSON only, with a body-size cap and a nesting-depth cap; numbers with a fraction are
    parsed as Decimal so money never passes through float."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and ascii_digits(str(length)) and int(length) > limit:
            raise PayloadTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        return json_body_parse(raw)


def json_body_parse(raw: bytes):
    """A request body by the API's JSON rules (UTF-8, fractions as Decimal, at most
    MAX_JSON_DEPTH levels); ParseError otherwise. The parser's, and the accept fast path's."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"Malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise ParseError("JSON nested too deeply.") from exc
    if _json_depth(data) > settings.MAX_JSON_DEPTH:
        raise ParseError(f"JSON nested deeper than {settings.MAX_JSON_DEPTH} levels.")
    return data


class StandardPagination(PageNumberPagination):
    """`?page=` and `?page_size=` (1-100); a bad value is a 400, not a silent default."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not ascii_digits(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError({"page_size": [f"An integer from 1 to {self.max_page_size}."]})
        return int(raw)


class StrictFieldsMixin:
    """Refuses fields it does not accept, so a typo is a 400 instead of a silent no-op."""

    unknown_field_message = "Unknown field."

    def fields_accepted(self) -> set[str]:
        return set(self.fields)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - self.fields_accepted())
            if unknown:
                raise serializers.ValidationError({name: [self.unknown_field_message] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    """An input body: a field it does not declare is a 400."""


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A model's body: a field it does not declare, or one that is read-only (ids, counters,
    timestamps), is a 400."""

    unknown_field_message = "Unknown or read-only field."

    def fields_accepted(self) -> set[str]:
        return {name for name, field in self.fields.items() if not field.read_only}


class TimeZoneField(serializers.ChoiceField):
    """An IANA time zone name this server knows; the schema lists them (an enum)."""

    default_error_messages = {"invalid_choice": "Not an IANA time zone."}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "An IANA time zone name, e.g. Europe/Paris.")
        super().__init__(choices=sorted(zoneinfo.available_timezones()), **kwargs)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    # Field errors are lists (or nested objects for nested fields): any JSON object.
    details = serializers.JSONField(help_text="Field errors (a list of messages per field) or extra context.")


class TransactionAcceptedSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    status = serializers.CharField()
    status_url = serializers.CharField()
