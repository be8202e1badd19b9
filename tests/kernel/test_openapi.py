"""The schema states the limits the server enforces (kernel/openapi.py, kernel/api.py)."""
import re
import zoneinfo

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return client.get("/swagger.json").json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation, [*item.get("parameters", []), *operation.get("parameters", [])]


def test_pages_and_path_parameters_are_typed_with_their_bounds(schema):
    # when
    paginated = {(path, method): {p["name"]: p for p in parameters}
                 for path, method, _, parameters in _operations(schema)
                 if any(p["name"] == "page_size" for p in parameters)}
    path_parameters = [p for _, _, _, parameters in _operations(schema) for p in parameters if p["in"] == "path"]

    # then: page from 1, page_size 1-100 (StandardPagination); <int:…> an integer, <uuid:…> a UUID
    assert len(paginated) > 20
    for parameters in paginated.values():
        assert parameters["page"]["minimum"] == 1
        assert (parameters["page_size"]["minimum"], parameters["page_size"]["maximum"]) == (1, 100)
    assert {(p["name"], p["type"], p.get("format")) for p in path_parameters} == {
        ("id", "integer", None), ("user_id", "integer", None), ("transaction_id", "string", "uuid"),
        ("reference", "string", None)}


def test_time_zones_money_and_idempotency_keys_carry_their_limits(schema):
    # given
    definitions = schema["definitions"]
    zones = sorted(zoneinfo.available_timezones())
    money = re.compile(definitions["TopUp"]["properties"]["amount"]["pattern"])
    accepting = [operation for path, method, operation, _ in _operations(schema)
                 if "202" in operation["responses"] and not path.startswith("/partner/") and path != "/codes/pools/"]

    # then
    for name in ("ProfileUpdate", "StaffProfileUpdate", "CustomerCreate", "Campaign"):
        assert definitions[name]["properties"]["timezone"]["enum"] == zones, name
    assert [bool(money.match(v)) for v in ("10", "10.5", "9999999999.99", "-1", "1.234", "12345678901", "1e3")] \
        == [True, True, True, False, False, False, False]
    assert re.match(definitions["LedgerEntry"]["properties"]["amount"]["pattern"], "-29.90")
    assert len(accepting) == 6
    for operation in accepting:
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert (header["in"], header["maxLength"]) == ("header", 255)
        assert {"409", "422"} <= set(operation["responses"])
