"""JSON encoding for the hot paths, where a settlement batch encodes hundreds of small dicts
(statuses, finished rows, redemption rows): orjson, an order of magnitude faster than the
standard library's json.dumps on a status payload. It encodes the same data
as json.dumps(value, default=str), but compactly, with non-ASCII characters as UTF-8 rather
than \\u escapes, and UUIDs and datetimes as their canonical and ISO 8601 strings without a
str() first. Not for anything hashed or compared byte for byte with what json.dumps wrote
(request fingerprints stay on the standard library)."""
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # int keys become strings, as json.dumps does


def json_loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def json_bytes(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=_OPTIONS)


def json_text(value: Any) -> str:
    """For a ::jsonb query parameter (psycopg would send bytes as bytea)."""
    return json_bytes(value).decode()
