"""An SDK generated from the live schema works: openapi-generator (PyPI `openapi-generator-cli`,
its bundled jar on Java 17) builds the `python` client from `/swagger.json` of the live web
process into a temporary directory, and the README walk-through runs through that client
alone, against the live web process and the session's Celery worker, on `seed_demo`'s data:
log in, activate an offer, long-poll its status, read the balance; claim a code and redeem
discounts; list the transactions; a signed partner activation.

The generated client knows the partner's three headers from the schema (`PartnerKey`,
`PartnerTimestamp`, `PartnerSignature` security definitions) but cannot compute an HMAC: it
sends an API key as configured. So partner calls go through an ApiClient whose `call_api`
(every request passes through it, with the final URL and the body it sends as JSON) adds the
three headers signed over those bytes (`signing_api_client` below): the hook a partner using
the SDK writes once. Nothing generated is committed."""
from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command

from tests.partners.signing import partner, sign

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

GENERATOR = Path(sys.executable).with_name("openapi-generator-cli")
PACKAGE = "offers_sdk"
TERMINAL = {"SUCCEEDED", "FAILED", "REVERSED"}


@pytest.fixture(scope="module")
def sdk(live_web, tmp_path_factory):
    """The package generated from the live schema, imported from a temporary directory."""
    assert shutil.which("java"), "openapi-generator needs a Java runtime (scripts/lib.sh installs Java 17)"
    assert GENERATOR.exists(), f"{GENERATOR} missing: requirements-dev.txt pins openapi-generator-cli"
    out = tmp_path_factory.mktemp("sdk")
    spec = out / "swagger.json"
    spec.write_text(requests.get(f"{live_web.url}/swagger.json", timeout=30).text)
    started = time.monotonic()
    generated = subprocess.run(
        [str(GENERATOR), "generate", "-i", str(spec), "-g", "python", "-o", str(out / "client"), "--package-name",
         PACKAGE, "--global-property", "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"],
        # a short run: the C1 compiler alone halves its CPU time on the shared cores
        env={**os.environ, "JAVA_OPTS": "-XX:TieredStopAtLevel=1"}, capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stdout[-4000:] + generated.stderr[-4000:]
    print(f"\n[sdk] client generated in {time.monotonic() - started:.1f}s")
    sys.path.insert(0, str(out / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out / "client"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def configured(sdk, base_url: str, token: str | None = None):
    configuration = sdk.Configuration(host=f"{base_url}/api/v1")
    if token:
        configuration.api_key["Bearer"] = token
        configuration.api_key_prefix["Bearer"] = "Bearer"
    return sdk.ApiClient(configuration)


def signing_api_client(sdk, base_url: str, *, key_id: str, secret: str):
    """An ApiClient that signs every request as partners.signing expects: over the method,
    the path with its query, the timestamp and the exact JSON bytes the client sends."""

    class SigningApiClient(sdk.ApiClient):
        def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
            raw = json.dumps(body).encode() if body is not None else b""  # what its rest client sends
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            timestamp = str(int(time.time()))
            header_params = {**(header_params or {}), "X-Partner-Key": key_id, "X-Partner-Timestamp": timestamp,
                             "X-Partner-Signature": sign(secret, method, path, timestamp, raw)}
            return super().call_api(method, url, header_params, body, post_params, _request_timeout)

    return SigningApiClient(sdk.Configuration(host=f"{base_url}/api/v1"))


def every_list_read(sdk, api_client) -> dict[str, int]:
    """Calls every operation of the client that lists or reads without arguments (`*_list`),
    and the `*_read` of the first item of each list; the status of each, 200 if its body
    deserialized into the generated models."""
    statuses = {}
    for api_name in [name for name in dir(sdk) if name.endswith("Api") and name != "ApiClient"]:
        api = getattr(sdk, api_name)(api_client)
        for name in [n for n in dir(api) if n.endswith("_list")]:
            call = getattr(api, name)
            if any(p.default is p.empty for p in inspect.signature(call).parameters.values()):
                continue
            try:
                page = call()
                statuses[name] = 200
            except sdk.ApiException as refused:
                statuses[name] = refused.status
                continue
            read = getattr(api, name.removesuffix("_list") + "_read", None)
            first = (getattr(page, "results", None) or [None])[0]
            if read is not None and getattr(first, "id", None) is not None:
                read(first.id)
                statuses[name.removesuffix("_list") + "_read"] = 200
    return statuses


def settled(activation_api, transaction_id):
    """Long-polls (`?wait=`) until the worker settles the transaction."""
    deadline = time.monotonic() + 60
    while True:
        state = activation_api.activation_status_read(transaction_id, wait=10)
        if state.status in TERMINAL or time.monotonic() > deadline:
            return state


def test_the_readme_walkthrough_runs_through_a_client_generated_from_the_live_schema(live_stack, sdk):
    # given: the demo data and a client generated from the schema the server serves
    web, _ = live_stack
    assert web.popen.poll() is None, f"web exited:\n{web.log_tail()}"
    call_command("seed_demo", verbosity=0)
    anonymous = configured(sdk, web.url)

    # when: alice logs in, activates an internet offer and long-polls it
    tokens = sdk.AuthApi(anonymous).auth_login_create(sdk.Login(username="alice", password="demo-pass"))
    alice = configured(sdk, web.url, tokens.access)
    offers, activation = sdk.OffersApi(alice), sdk.ActivationApi(alice)
    offer = offers.offers_list(category="internet").results[0]
    key = f"sdk-{uuid.uuid4()}"
    accepted = activation.activation_create(sdk.ActivationRequest(offer_id=offer.id), idempotency_key=key)
    replayed = activation.activation_create(sdk.ActivationRequest(offer_id=offer.id), idempotency_key=key)
    activated = settled(activation, accepted.transaction_id)
    balance = sdk.AccountApi(alice).account_balance_list()

    # then: typed as the server answers (a result of numbers and strings, amounts as strings)
    assert accepted.status == "PENDING" and accepted.status_url.endswith(f"{accepted.transaction_id}/")
    assert replayed.transaction_id == accepted.transaction_id  # the Idempotency-Key header went out
    assert activated.status == "SUCCEEDED", activated
    assert isinstance(activated.result["subscription_id"], int)
    assert activated.result["amount_charged"] == str(offer.price) and activated.currency == balance.currency
    assert Decimal(balance.balance) == Decimal("200.00") - Decimal(offer.price)  # seed_demo's balance

    # when: she claims a code, then redeems the best combination of her cart's campaigns in an order
    codes, discounts = sdk.CodesApi(alice), sdk.DiscountsApi(alice)
    pool = codes.codes_pools_open_list().results[0]
    claim = codes.codes_pools_claim_create(pool.id, {}, idempotency_key=f"sdk-{uuid.uuid4()}")
    claimed = settled(activation, claim.transaction_id)
    cart = sdk.Cart(cart_value="100.00", delivery_charge="4.90")
    best = discounts.discounts_available_create(cart).best_combination
    redeem = discounts.discounts_redeem_create(
        sdk.Redeem(campaign_ids=best.campaign_ids, cart_value="100.00", delivery_charge="4.90",
                   order_reference=f"sdk-{uuid.uuid4().hex[:12]}"))
    redeemed = settled(activation, redeem.transaction_id)
    transactions = sdk.AccountApi(alice).account_transactions_list(page_size=100).results

    # then: the code claim moved no money (no currency), every row of the list deserialized
    assert claimed.status == "SUCCEEDED" and claimed.result["code"] and claimed.currency is None
    assert redeemed.status == "SUCCEEDED", redeemed
    assert redeemed.result["discount"] == best.total_discount
    assert {t.kind for t in transactions} >= {"offer_activation", "code_claim", "discount_redemption"}
    assert [t.currency for t in transactions if t.kind == "code_claim"] == [None]

    # when: a partner activates an offer for bob through the generated client, signed by the hook
    from accounts.models import User

    credentials = partner(name="sdk-partner", customers=[User.objects.get(username="bob")])
    partner_api = sdk.PartnerApi(signing_api_client(sdk, web.url, key_id=credentials.key_id,
                                                    secret=credentials.secret))
    reference = f"sdk-{uuid.uuid4().hex[:12]}"
    partner_accepted = partner_api.partner_activate_create(
        sdk.PartnerActivationRequest(reference=reference, customer="bob@example.com", offer_id=offer.id))
    deadline = time.monotonic() + 60
    while (validation := partner_api.partner_validate_read(reference)).status not in TERMINAL:
        assert time.monotonic() < deadline, validation
        time.sleep(1.1)  # a signature is good once, and the same request in the same second signs alike

    # then
    assert partner_accepted.reference == reference
    assert validation.status == "SUCCEEDED" and validation.is_valid is True

    # when: every list alice and the operator may read, over the rows the walk-through left
    operator = configured(sdk, web.url, sdk.AuthApi(anonymous).auth_login_create(
        sdk.Login(username="operator", password="demo-pass")).access)
    as_alice, as_operator = every_list_read(sdk, alice), every_list_read(sdk, operator)
    print(f"\n[sdk] read through the client: alice {as_alice}, operator {as_operator}")

    # then: each deserialized into the generated models (alice is refused the staff lists only)
    assert len(as_operator) > 30 and set(as_operator.values()) == {200}, as_operator
    assert set(as_alice.values()) == {200, 403} and as_alice["account_transactions_list"] == 200, as_alice


def test_an_unsigned_partner_call_through_the_generated_client_is_a_typed_401(live_stack, sdk):
    # given: the generated client without the signing hook
    web, _ = live_stack
    assert web.popen.poll() is None, f"web exited:\n{web.log_tail()}"
    partner_api = sdk.PartnerApi(configured(sdk, web.url))

    # when
    with pytest.raises(sdk.ApiException) as refused:
        partner_api.partner_validate_read("no-such-reference")

    # then: a documented status, in the error shape
    assert refused.value.status == 401
    assert set(json.loads(refused.value.body)) == {"code", "message", "details"}
