"""Hostile input: Schemathesis generates requests from the live OpenAPI (Swagger 2.0) schema
and sends them to the real web process as a customer, as staff and as a signed partner, over
a database that holds realistic rows of every kind (tests/security/fuzz_rows.py).

Every response must be no 5xx, carry a status the schema documents, and match the documented
body schema. Half of the requests to an operation with path parameters name real rows. The
number of generated cases per operation and mode is bounded (FUZZ_EXAMPLES, default 6) so the
file stays within a few minutes; FUZZ_EXAMPLES=200 is the deep run (docs/RELIABILITY.md).
FUZZ_ONLY=<text> fuzzes only the operations whose label ("GET /campaigns/{id}/") contains it."""
from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import bearer, customer
from tests.partners.callback_server import CallbackServer
from tests.partners.signing import sign
from tests.security.fuzz_rows import FuzzRows, fuzz_rows_seed

pytestmark = [pytest.mark.e2e]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
ONLY = os.environ.get("FUZZ_ONLY", "")


def content_type_conformance_with_content(ctx, response, case):
    """content_type_conformance for every response that has content. A 204 has none (RFC 9110
    §15.3.5), so it names no media type (DRF removes Content-Type from an empty body); Swagger
    2.0 cannot say so for one status, its `produces` covers the whole operation (OpenAPI 3 can,
    and Schemathesis then skips the check). A 204 with a body still fails."""
    if response.status_code == 204 and not response.content:
        return None
    return content_type_conformance(ctx, response, case)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance_with_content,
          response_schema_conformance]
PARTNER_PATHS = ("/partner/",)  # operation paths are relative to basePath /api/v1
# Figures for docs/RELIABILITY.md: printed at the end of each role's run.
generated: Counter = Counter()


@pytest.fixture
def fuzz_schema(live_stack):
    web, _ = live_stack
    return schemathesis.openapi.from_url(f"{web.url}/swagger.json")


@pytest.fixture
def fuzz_rows(live_stack) -> FuzzRows:
    web, _ = live_stack
    callbacks = CallbackServer()
    callbacks.start()
    started = time.monotonic()
    rows = fuzz_rows_seed(web.url, callback_url=callbacks.url)
    print(f"\n[fuzz] rows seeded in {time.monotonic() - started:.1f}s")
    yield rows
    callbacks.stop()


def _signed(credentials, prepared: requests.PreparedRequest) -> None:
    timestamp = str(int(time.time()))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    path = urlsplit(prepared.url)
    full_path = path.path + (f"?{path.query}" if path.query else "")
    prepared.headers.update({
        "X-Partner-Key": credentials.key_id, "X-Partner-Timestamp": timestamp,
        "X-Partner-Signature": sign(credentials.secret, prepared.method, full_path, timestamp, body),
    })


def _cases(operation, mode: GenerationMode, known: dict[str, list[dict]]):
    """Generated cases; for an operation with path parameters, half of them name real rows."""
    cases = operation.as_strategy(generation_mode=mode)
    rows = known.get(operation.path)
    if not rows:
        return cases
    return st.one_of(cases, st.sampled_from(rows).flatmap(
        lambda parameters: operation.as_strategy(generation_mode=mode, path_parameters=parameters)))


def _failure_line(failure) -> str:
    """The failure's title, and for a body that violates its schema, where and why."""
    line = str(failure).splitlines()[0]
    if getattr(failure, "instance_path", None) is not None:
        where = "/".join(str(part) for part in failure.instance_path)
        line += f" at /{where}: {failure.validation_message.strip().splitlines()[0][:200]}"
    return line


def _fuzz(schema, role: str, authorize, known: dict[str, list[dict]], only=None) -> None:
    session = requests.Session()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [operation for operation in operations
              if (only is None or only(operation.path)) and ONLY in operation.label]
    for operation in fuzzed:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @given(case=_cases(operation, mode, known))
            def run(case):
                kwargs = case.as_transport_kwargs()  # the schema URL + its basePath
                kwargs.pop("session", None)
                kwargs.setdefault("timeout", 15)
                timeout = kwargs.pop("timeout")
                prepared = session.prepare_request(requests.Request(**{
                    k: v for k, v in kwargs.items() if k in {"method", "url", "headers", "params", "json", "data",
                                                             "files", "cookies"}}))
                authorize(prepared)
                response = session.send(prepared, timeout=timeout, allow_redirects=False)
                generated[role] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # collect every failing operation, not just the first
                    found = getattr(exc, "exceptions", (exc,))
                    failures.append(f"{role} {operation.label} [{mode.value}] -> {response.status_code}: "
                                    + "; ".join(_failure_line(f) for f in found)
                                    + f"\n    {response.text[:300]}\n    {prepared.method} {prepared.url[:300]} "
                                    + f"{(prepared.body or b'')[:300]!r}")

            run()
    print(f"\n[fuzz] schemathesis role={role} operations={len(fuzzed)} generated_cases={generated[role]} "
          f"failures={len(failures)}")
    assert not failures, "\n".join(failures)


def test_fuzz_as_a_customer(fuzz_schema, fuzz_rows):
    # given: a customer with transactions of every kind, subscriptions, codes, holds, notifications
    token = bearer(fuzz_rows.customer)

    # when / then: every generated request answers without a 5xx and as documented
    _fuzz(fuzz_schema, "customer", lambda p: p.headers.__setitem__("Authorization", token), fuzz_rows.known,
          only=lambda path: not path.startswith(PARTNER_PATHS))


def test_fuzz_as_staff(fuzz_schema, fuzz_rows):
    # given: platform staff, who see every customer, campaign, pool, store and promo (and have their own history)
    token = bearer(fuzz_rows.staff)

    # when / then
    _fuzz(fuzz_schema, "staff", lambda p: p.headers.__setitem__("Authorization", token), fuzz_rows.known,
          only=lambda path: not path.startswith(PARTNER_PATHS))


def test_fuzz_as_a_partner(fuzz_schema, fuzz_rows):
    # given: a partner with succeeded, failed and reversed activations for its linked customer
    credentials = fuzz_rows.partner

    # when / then: each generated request is signed over the exact bytes sent
    _fuzz(fuzz_schema, "partner", lambda p: _signed(credentials, p), fuzz_rows.known,
          only=lambda path: path.startswith(PARTNER_PATHS))


def test_an_undocumented_method_answers_405_with_allow(live_stack):
    # given: platform staff, who pass every permission check, so the method decides
    web, _ = live_stack
    token = bearer(customer(username="fuzz-methods", is_staff=True))
    schema = requests.get(f"{web.url}/swagger.json", timeout=15).json()
    placeholders = {"transaction_id": str(uuid.uuid4()), "reference": "ref-1"}
    refused = []

    # when: every method a path does not document is sent to it
    for path, item in schema["paths"].items():
        if path.startswith(PARTNER_PATHS):
            continue
        documented = {method.upper() for method in item if method != "parameters"}
        url = web.url + schema["basePath"] + re.sub(r"{(\w+)}", lambda m: placeholders.get(m[1], "1"), path)
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            response = requests.request(method, url, headers={"Authorization": token}, json={}, timeout=15)
            allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}

            # then: 405 in the error shape, with an Allow header naming every documented method
            if (response.status_code != 405 or not documented <= allowed
                    or set(response.json()) != {"code", "message", "details"}):
                refused.append(f"{method} {path} -> {response.status_code} Allow={response.headers.get('Allow')!r}")
    assert not refused, "\n".join(refused)
