"""Parallel load through the live web process and worker."""
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from accounts.models import LedgerEntry
from activation.models import Transaction
from partners.models import PartnerActivation
from tests.factories import PASSWORD, OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance, wait_until_terminal
from tests.partners.signing import ACTIVATE, body_of, partner, signed_headers

pytestmark = [pytest.mark.e2e, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_20_parallel_submissions_of_one_reference_make_one_transaction(live_stack):
    # given: each submission signed anew (a signature is good once)
    web, _ = live_stack
    user = customer(balance="100.00", phone="+33698760001")
    offer = OfferFactory(price=Decimal("10.00"))
    credentials = partner(customers=[user])
    body = body_of({"reference": "PAR-1", "customer": "+33698760001", "offer_id": offer.id})
    now = int(time.time())
    signed = [signed_headers(credentials, "POST", ACTIVATE, body, timestamp=now - i) for i in range(20)]

    # when
    def submit(headers):
        return requests.post(f"{web.url}{ACTIVATE}", data=body, headers=headers)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(submit, signed))

    # then: every answer is the one transaction, or "in flight, retry" (409)
    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    ids = {r.json()["transaction_id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    assert PartnerActivation.objects.filter(reference="PAR-1").count() == 1
    assert Transaction.objects.filter(user=user).count() == 1
    [txn] = wait_until_terminal(ids)
    assert txn.status == "SUCCEEDED"
    assert LedgerEntry.objects.filter(account__user=user, reason="debit").count() == 1
    assert assert_ledger_matches_balance(user) == Decimal("90.00")


def test_customer_and_partner_activations_in_parallel_never_double_spend(live_stack):
    # given: a balance for exactly 10 activations
    web, _ = live_stack
    user = customer(username="shared", balance="100.00", phone="+33698760002")
    offer = OfferFactory(price=Decimal("10.00"))
    credentials = partner(customers=[user])
    login = requests.post(f"{web.url}/api/v1/auth/login/", json={"username": "shared", "password": PASSWORD})
    jwt = {"Authorization": f"Bearer {login.json()['access']}"}
    now = int(time.time())

    def customer_activates(i):
        return requests.post(f"{web.url}/api/v1/activation/", json={"offer_id": offer.id}, headers=jwt)

    def partner_activates(i):
        body = body_of({"reference": f"MIX-{i}", "customer": "+33698760002", "offer_id": offer.id})
        return requests.post(f"{web.url}{ACTIVATE}", data=body,
                             headers=signed_headers(credentials, "POST", ACTIVATE, body, timestamp=now - i))

    # when: 15 of each at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(customer_activates, i) for i in range(15)]
        futures += [pool.submit(partner_activates, i) for i in range(15)]
        responses = [f.result() for f in futures]

    # then
    assert [r.status_code for r in responses] == [202] * 30, [r.text for r in responses if r.status_code != 202]
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses])
    outcomes = sorted((t.status, t.failure_code) for t in txns)
    assert outcomes.count(("SUCCEEDED", "")) == 10
    assert outcomes.count(("FAILED", "insufficient_balance")) == 20
    assert assert_ledger_matches_balance(user) == Decimal("0.00")
    assert PartnerActivation.objects.filter(partner=credentials.partner).count() == 15
