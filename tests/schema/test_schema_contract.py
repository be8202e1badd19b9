"""The served OpenAPI (Swagger 2.0) document is fit to generate an SDK from: valid, every
operation named, titled and with every status it can answer, partner operations signed,
no component name a generator would reuse for an enum (kernel/openapi.py, SWAGGER_SETTINGS)."""
import inspect
import re
import uuid

import pytest
from django.urls import resolve
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

pytestmark = pytest.mark.django_db

PARTNER_SIGNATURE = {"PartnerKey": [], "PartnerTimestamp": [], "PartnerSignature": []}
ERROR_REF = {"$ref": "#/definitions/Error"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/swagger.json").json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method.upper(), operation


def _camel(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[_\W]+", name))


def test_the_served_schema_is_valid_openapi_2():
    # given: the document as served
    from django.test import Client

    schema = Client().get("/swagger.json").json()

    # when
    errors = [error.message for error in OpenAPIV2SpecValidator(schema).iter_errors()]

    # then
    assert errors == []
    validate(schema)  # the validator's own entry point agrees


def test_every_operation_has_a_clean_unique_id_and_a_title(schema):
    # when
    operations = list(_operations(schema))
    ids = [operation["operationId"] for _, _, operation in operations]
    summaries = [operation.get("summary") for _, _, operation in operations]

    # then: identifiers every generator takes as method names; ReDoc lists the titles
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]*", i)] == []
    assert len(set(ids)) == len(ids)
    assert None not in summaries and "" not in summaries
    assert len(set(summaries)) == len(summaries)
    assert [s for s, i in zip(summaries, ids, strict=True) if s.lower() == i.replace("_", " ")] == []


def test_every_operation_documents_every_status_it_can_answer_in_the_error_shape(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        takes_body = any(p["in"] == "body" for p in operation.get("parameters", []))
        public = operation.get("security") == []
        expected = {"400", "429", "503"} | (set() if public else {"401", "403"}) | \
            ({"413", "415"} if takes_body else set()) | ({"404"} if "{" in path else set())

        # then
        label = f"{method} {path}"
        assert expected <= set(responses), (label, sorted(expected - set(responses)))
        for status, response in responses.items():
            assert response["description"], (label, status)
            if int(status) >= 400:
                assert response["schema"] == ERROR_REF, (label, status)
        for status in {"429", "503"} & set(responses):
            assert "Retry-After" in responses[status]["headers"], (label, status)
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
            assert {"409", "422"} <= set(responses), label
            assert {"Location", "Idempotent-Replayed"} <= set(responses["202"]["headers"]), label


def test_every_creating_post_that_reads_an_idempotency_key_documents_it(schema):
    # given: the operations whose view method reads the header (activation.api.accept.idempotency_key_from)
    reading = set()
    for path, method, _ in _operations(schema):
        url = schema["basePath"] + re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()) if "transaction" in m[1] else "1",
                                          path)
        view = getattr(resolve(url).func, "view_class", None)
        handler = getattr(view, method.lower(), None)
        if handler is not None and "idempotency_key_from(" in inspect.getsource(handler):
            reading.add((method, path))

    # when
    documented = {(method, path) for path, method, operation in _operations(schema)
                  if any(p["name"] == "Idempotency-Key" and p["in"] == "header"
                         for p in operation.get("parameters", []))}

    # then
    assert len(reading) == 6
    assert documented == reading


def test_partner_operations_take_the_three_signature_headers_and_no_bearer_token(schema):
    # given
    definitions = schema["securityDefinitions"]

    # when
    partner = {path: operation.get("security") for path, _, operation in _operations(schema)
               if path.startswith("/partner/")}
    others = [operation.get("security") for path, _, operation in _operations(schema)
              if not path.startswith("/partner/")]

    # then
    assert {name: (d["type"], d["in"], d["name"]) for name, d in definitions.items()} == {
        "Bearer": ("apiKey", "header", "Authorization"),
        "PartnerKey": ("apiKey", "header", "X-Partner-Key"),
        "PartnerTimestamp": ("apiKey", "header", "X-Partner-Timestamp"),
        "PartnerSignature": ("apiKey", "header", "X-Partner-Signature")}
    assert schema["security"] == [{"Bearer": []}]
    assert len(partner) == 3 and all(security == [PARTNER_SIGNATURE] for security in partner.values())
    assert all(security in (None, []) for security in others)


def test_the_csv_export_is_a_text_csv_string(schema):
    # when
    export = schema["paths"]["/codes/pools/{id}/export.csv"]["get"]

    # then
    assert export["operationId"] == "codes_pools_export_csv"
    assert export["produces"][0] == "text/csv"
    assert export["responses"]["200"]["schema"] == {"type": "string"}


def test_no_definition_is_named_as_a_generator_names_another_definitions_enum(schema):
    # given: openapi-python-client names an inline enum <Definition><Property> and drops a
    # model whose enum name is taken (Transaction.status once met a TransactionStatus)
    definitions = schema["definitions"]

    # when
    clashes = [f"{name}.{prop}" for name, definition in definitions.items()
               for prop, spec in definition.get("properties", {}).items()
               if ("enum" in spec or "enum" in spec.get("items", {})) and name + _camel(prop) in definitions]

    # then
    assert clashes == []


def test_integers_have_small_examples_and_defaults_fit_their_own_schema(schema):
    # given
    properties = [(f"{name}.{prop}", spec) for name, definition in schema["definitions"].items()
                  for prop, spec in definition.get("properties", {}).items()]

    # then: an example id is 1, not the 2147483647 the maximum would suggest
    integers = [(label, spec) for label, spec in properties if spec.get("type") == "integer"]
    assert integers
    assert [label for label, spec in integers if not 1 <= spec.get("example", 0) <= 1000] == []
    # a default a generated client sends when the caller says nothing must be accepted
    for label, spec in properties:
        if "default" in spec and spec.get("type") == "string" and spec["default"] is not None:
            assert len(spec["default"]) >= spec.get("minLength", 0), label
            assert not spec.get("pattern") or re.search(spec["pattern"], spec["default"]), label


def test_what_the_poll_and_the_transaction_list_return_is_typed_as_the_server_sends_it(schema):
    # given
    definitions = schema["definitions"]

    # then: `result` holds numbers, flags and lists, not only strings; money-less rows have no currency
    for name in ("TransactionState", "Transaction"):
        result = definitions[name]["properties"]["result"]
        assert result["type"] == "object" and "additionalProperties" not in result, name
        currency = definitions[name]["properties"]["currency"]
        assert currency.get("x-nullable") is True, name
    # an order reference is the caller's to give: no default a client would send
    redeem = definitions["Redeem"]
    assert "order_reference" in redeem["required"] and "default" not in redeem["properties"]["order_reference"]


def test_a_body_that_is_not_json_is_a_documented_415_on_every_operation_that_takes_one(client, schema):
    # given: platform staff, who pass every permission check, so the media type decides
    from tests.factories import bearer, customer

    token = bearer(customer(username="schema-media", is_staff=True))
    answers = {}

    # when: every operation that takes a JSON body is sent text instead
    for path, method, operation in _operations(schema):
        if not any(p["in"] == "body" for p in operation.get("parameters", [])) or path.startswith("/partner/"):
            continue
        url = schema["basePath"] + path.replace("{id}", "1").replace("{user_id}", "1")
        response = client.generic(method, url, data="offer_id=1", content_type="text/plain",
                                  HTTP_AUTHORIZATION=token)
        answers[f"{method} {path}"] = response.status_code

        # then: a status the operation documents, in the error shape
        assert str(response.status_code) in operation["responses"], (method, path, response.status_code)
        assert set(response.json()) == {"code", "message", "details"}, (method, path)
    # (a path naming a row that does not exist may answer 404 first)
    assert {status for label, status in answers.items() if "{" not in label} == {415}


def test_a_page_of_items_is_a_named_definition(schema):
    # when: the success schema of every paginated list
    paged = {f"{method} {path}": operation["responses"]["200"]["schema"]
             for path, method, operation in _operations(schema)
             if any(p["name"] == "page_size" for p in operation.get("parameters", []))}

    # then: `<Item>Page` with the items' definition, so generators need not name it after the operation
    assert len(paged) > 15
    for label, success in paged.items():
        name = success["$ref"].rsplit("/", 1)[-1]
        page = schema["definitions"][name]
        assert name == page["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1] + "Page", label
        assert set(page["required"]) == {"count", "results"}, label
