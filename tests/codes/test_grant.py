"""Granting a code to a named customer: brand members and platform staff only, through the
engine like the customer's own claim (one code per customer per pool, never more than the
pool holds), the code recording who granted it."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from activation.models import IdempotencyKey, Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.codes.models import DiscountCode
from offers.codes.services import KIND_CODE_CLAIM, code_grant_request, code_pool_create
from tests.codes.factories import BrandFactory, customers_bulk
from tests.factories import bearer, customer
from tests.helpers import run_at_once, wait_until_terminal


@pytest.fixture
def brand_pool():
    member = customer(username="acme-member")
    brand = BrandFactory(name="Acme")
    brand.staff.add(member)
    pool = code_pool_create(brand=brand, name="Gifts", total_count=3)
    return member, brand, pool


def grant(api_client, user, pool, customer_ref, **headers):
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return api_client.post(f"/api/v1/codes/pools/{pool.id}/grant/", {"customer": customer_ref}, format="json",
                           headers=headers)


def settled(response) -> Transaction:
    assert response.status_code == 202, response.json()
    txn_id = response.json()["transaction_id"]
    transactions_settle(transaction_id=txn_id, batch_size=1)
    return Transaction.objects.get(pk=txn_id)


@pytest.mark.django_db
def test_a_brand_member_grants_a_code_to_a_customer_named_by_id(api_client, brand_pool):
    # given
    member, _, pool = brand_pool
    alice = customer(username="alice")

    # when
    txn = settled(grant(api_client, member, pool, alice.id))

    # then: the customer's own code_claim transaction, the code theirs, granted by the member
    assert (txn.kind, txn.user_id, txn.status) == (KIND_CODE_CLAIM, alice.id, "SUCCEEDED")
    assert txn.payload["granted_by"] == member.id and txn.result["already_claimed"] is False
    code = DiscountCode.objects.get(pool=pool, claimed_by=alice)
    assert (code.code, code.granted_by_id, code.claim_transaction_id) == (txn.result["code"], member.id, txn.id)
    pool.refresh_from_db()
    assert pool.claimed_count == 1


@pytest.mark.django_db
def test_platform_staff_grant_to_a_customer_named_by_email_in_any_case(api_client, brand_pool):
    # given
    _, _, pool = brand_pool
    staff = customer(username="platform-staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    bob = customer(username="bob", email="Bob@Example.com")

    # when
    txn = settled(grant(api_client, staff, pool, " bob@example.COM "))

    # then
    assert (txn.user_id, txn.status) == (bob.id, "SUCCEEDED")
    assert DiscountCode.objects.get(claimed_by=bob).granted_by_id == staff.id


@pytest.mark.django_db
def test_a_customer_who_already_holds_a_code_keeps_it_and_the_grant_says_so(api_client, brand_pool):
    # given: alice claimed her own code
    member, _, pool = brand_pool
    alice = customer()
    own = Transaction.objects.create(kind=KIND_CODE_CLAIM, user=alice, payload={"pool_id": pool.id})
    transactions_settle(transaction_id=own.id, batch_size=1)
    own.refresh_from_db()

    # when
    txn = settled(grant(api_client, member, pool, alice.email))

    # then
    assert txn.status == "SUCCEEDED" and txn.result["already_claimed"] is True
    assert txn.result["code"] == own.result["code"]
    code = DiscountCode.objects.get(claimed_by=alice)
    assert code.granted_by_id is None  # she claimed it herself
    pool.refresh_from_db()
    assert pool.claimed_count == 1


@pytest.mark.django_db
def test_a_grant_on_an_empty_pool_is_refused_sold_out(api_client, brand_pool):
    # given
    member, _, pool = brand_pool
    for holder in customers_bulk(3, prefix="early"):
        transactions_settle(transaction_id=code_grant_request(pool=pool, customer_id=holder.id,
                                                              granted_by_id=member.id,
                                                              idempotency_key=None).transaction.id, batch_size=1)

    # when
    txn = settled(grant(api_client, member, pool, customer().id))

    # then
    assert (txn.status, txn.failure_code) == ("FAILED", "sold_out")
    assert DiscountCode.objects.filter(pool=pool, claimed_by__isnull=True).count() == 0


@pytest.mark.django_db
def test_who_may_grant_customers_403_another_brands_member_404_unknown_customer_400(api_client, brand_pool):
    # given
    _, _, pool = brand_pool
    other_member = customer(username="other-member")
    BrandFactory(name="Other").staff.add(other_member)
    plain = customer(username="plain")
    member = brand_pool[0]
    alice = customer(username="alice")

    # when
    by_customer = grant(api_client, plain, pool, alice.id)
    by_other_brand = grant(api_client, other_member, pool, alice.id)
    unknown_id = grant(api_client, member, pool, 987654)
    unknown_email = grant(api_client, member, pool, "nobody@example.com")
    huge_id = grant(api_client, member, pool, "9" * 30)
    no_customer = api_client.post(f"/api/v1/codes/pools/{pool.id}/grant/", {}, format="json")
    extra_field = api_client.post(f"/api/v1/codes/pools/{pool.id}/grant/", {"customer": alice.id, "x": 1},
                                  format="json")
    unknown_pool = api_client.post("/api/v1/codes/pools/999999/grant/", {"customer": alice.id}, format="json")

    # then
    assert by_customer.status_code == 403
    assert by_other_brand.status_code == 404
    assert [r.status_code for r in (unknown_id, unknown_email, huge_id, no_customer, extra_field)] == [400] * 5
    assert unknown_id.json()["details"]["customer"] == ["Unknown customer."]
    assert unknown_pool.status_code == 404
    assert all(set(r.json()) == {"code", "message", "details"}
               for r in (by_customer, by_other_brand, unknown_id, unknown_pool))
    assert Transaction.objects.count() == 0 and DiscountCode.objects.filter(claimed_by__isnull=False).count() == 0


@pytest.mark.django_db
def test_the_granters_idempotency_key_replays_for_the_same_customer_and_refuses_another(api_client, brand_pool):
    # given
    member, _, pool = brand_pool
    alice, bob = customer(), customer()

    # when
    first = grant(api_client, member, pool, alice.id, **{"Idempotency-Key": "gift-1"})
    again = grant(api_client, member, pool, alice.id, **{"Idempotency-Key": "gift-1"})
    other = grant(api_client, member, pool, bob.id, **{"Idempotency-Key": "gift-1"})

    # then
    assert first.status_code == again.status_code == 202
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert Transaction.objects.count() == 1
    assert IdempotencyKey.objects.get().scope == f"user:{member.id}"


@pytest.mark.django_db
def test_reversing_a_grant_frees_the_code_and_forgets_the_granter(brand_pool):
    # given
    member, _, pool = brand_pool
    alice = customer()
    txn = code_grant_request(pool=pool, customer_id=alice.id, granted_by_id=member.id, idempotency_key=None).transaction
    transactions_settle(transaction_id=txn.id, batch_size=1)
    staff = customer()
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])

    # when
    transaction_reverse(transaction_id=txn.id, requested_by_id=staff.id, as_staff=True)

    # then
    code = DiscountCode.objects.get(code=Transaction.objects.get(pk=txn.id).result["code"])
    assert (code.claimed_by_id, code.granted_by_id, code.claim_transaction_id) == (None, None, None)
    pool.refresh_from_db()
    assert pool.claimed_count == 0


def settle_all_at_once(txn_ids) -> None:
    """Each transaction settled by its own thread, all released together."""
    run_at_once(lambda txn_id: transactions_settle(transaction_id=txn_id, batch_size=1), [(t,) for t in txn_ids])


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_claims_and_grants_for_one_customer_settled_at_once_give_one_code(brand_pool):
    # given: the customer claims 6 times while two granters grant them a code 6 times
    member, _, pool = brand_pool
    other_granter = customers_bulk(1, prefix="racing-granter")[0]
    alice = customers_bulk(1, prefix="racing-alice")[0]
    claims = [Transaction.objects.create(kind=KIND_CODE_CLAIM, user=alice, payload={"pool_id": pool.id}).id
              for _ in range(6)]
    grants = [code_grant_request(pool=pool, customer_id=alice.id, granted_by_id=granter.id,
                                 idempotency_key=None).transaction.id for granter in (member, other_granter) * 3]

    # when
    settle_all_at_once(claims + grants)

    # then (a live worker of the session may have settled some of the grants it was sent)
    txns = wait_until_terminal(claims + grants)
    assert {t.status for t in txns} == {"SUCCEEDED"}
    assert len({t.result["code"] for t in txns}) == 1
    assert sum(not t.result["already_claimed"] for t in txns) == 1
    assert DiscountCode.objects.filter(claimed_by=alice).count() == 1
    pool.refresh_from_db()
    assert pool.claimed_count == 1


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_grants_and_claims_for_many_customers_never_hand_out_more_than_the_pool_holds(brand_pool):
    # given: 40 customers, each both claiming and granted, on a pool of 3
    member, _, pool = brand_pool
    people = customers_bulk(40, prefix="crowd")
    txn_ids = []
    for person in people:
        txn_ids.append(Transaction.objects.create(kind=KIND_CODE_CLAIM, user=person, payload={"pool_id": pool.id}).id)
        txn_ids.append(code_grant_request(pool=pool, customer_id=person.id, granted_by_id=member.id,
                                          idempotency_key=None).transaction.id)

    # when
    settle_all_at_once(txn_ids)

    # then
    wait_until_terminal(txn_ids)
    holders = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=False)
    assert holders.count() == 3 and holders.values("claimed_by").distinct().count() == 3
    txns = list(Transaction.objects.filter(pk__in=txn_ids))
    assert {t.failure_code for t in txns if t.status == "FAILED"} == {"sold_out"}
    assert {t.user_id for t in txns if t.status == "SUCCEEDED"} == set(holders.values_list("claimed_by", flat=True))
    pool.refresh_from_db()
    assert pool.claimed_count == 3


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_grant_through_the_live_stack_shows_in_the_customers_codes(live_stack):
    # given
    web, _ = live_stack
    member = customer(username="live-member")
    brand = BrandFactory(name="Live brand")
    brand.staff.add(member)
    pool = code_pool_create(brand=brand, name="Live gifts", total_count=5)
    alice = customer(username="live-alice")

    # when
    with ThreadPoolExecutor(max_workers=2) as executor:
        responses = list(executor.map(
            lambda body: requests.post(f"{web.url}/api/v1/codes/pools/{pool.id}/grant/", json=body,
                                       headers={"Authorization": bearer(member)}),
            [{"customer": alice.id}, {"customer": alice.email}]))
    txns = wait_until_terminal([r.json()["transaction_id"] for r in responses])
    mine = requests.get(f"{web.url}/api/v1/codes/mine/", headers={"Authorization": bearer(alice)}).json()

    # then
    assert [r.status_code for r in responses] == [202, 202]
    assert {t.status for t in txns} == {"SUCCEEDED"} and len({t.result["code"] for t in txns}) == 1
    assert [c["code"] for c in mine["results"]] == [txns[0].result["code"]]
    assert DiscountCode.objects.get(claimed_by=alice).granted_by_id == member.id
