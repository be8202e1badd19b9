"""Hostile input: Schemathesis generates requests from the live OpenAPI (Swagger 2.0) schema
and sends them to the real web process as a customer, as staff and as a signed partner.

Every response must be no 5xx, carry a status the schema documents, and match the documented
body schema. The number of generated cases per operation is bounded (FUZZ_EXAMPLES) so the
three roles together stay well under two minutes."""
from __future__ import annotations

import os
import time
from collections import Counter
from urllib.parse import urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import OfferFactory, bearer, customer
from tests.partners.signing import partner, sign

pytestmark = [pytest.mark.e2e]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PARTNER_PATHS = ("/partner/",)  # operation paths are relative to basePath /api/v1
# Figures for docs/RELIABILITY.md: printed at the end of each role's run.
generated: Counter = Counter()


@pytest.fixture
def fuzz_schema(live_stack):
    web, _ = live_stack
    return schemathesis.openapi.from_url(f"{web.url}/swagger.json")


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


def _fuzz(schema, base_url: str, role: str, authorize, only=None) -> None:
    session = requests.Session()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        if only is not None and not only(operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode))
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
                                    + "; ".join(str(f).splitlines()[0] for f in found)
                                    + f"\n    {response.text[:300]}\n    {prepared.method} {prepared.url[:300]} "
                                    + f"{(prepared.body or b'')[:300]!r}")

            run()
    print(f"\n[fuzz] schemathesis role={role} operations={len(operations)} generated_cases={generated[role]} "
          f"failures={len(failures)}")
    assert not failures, "\n".join(failures)


def test_fuzz_as_a_customer(fuzz_schema, live_stack):
    # given
    web, _ = live_stack
    alice = customer(balance="100.00")
    OfferFactory()
    token = bearer(alice)

    # when / then: every generated request answers without a 5xx and as documented
    _fuzz(fuzz_schema, web.url, "customer", lambda p: p.headers.__setitem__("Authorization", token),
          only=lambda path: not path.startswith(PARTNER_PATHS))


def test_fuzz_as_staff(fuzz_schema, live_stack):
    # given
    web, _ = live_stack
    staff = customer(balance="100.00", username="fuzz-staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    OfferFactory()
    token = bearer(staff)

    # when / then
    _fuzz(fuzz_schema, web.url, "staff", lambda p: p.headers.__setitem__("Authorization", token),
          only=lambda path: not path.startswith(PARTNER_PATHS))


def test_fuzz_as_a_partner(fuzz_schema, live_stack):
    # given
    web, _ = live_stack
    credentials = partner()
    customer(balance="100.00", phone="+33600000099")
    OfferFactory()

    # when / then: each generated request is signed over the exact bytes sent
    _fuzz(fuzz_schema, web.url, "partner", lambda p: _signed(credentials, p),
          only=lambda path: path.startswith(PARTNER_PATHS))
