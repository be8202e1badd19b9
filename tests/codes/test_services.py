"""Code pools against the real database: bulk generation, claim settlement, and the
concurrency invariants (never more than total_count, never two codes per customer)."""
import time

import pytest

from activation.models import Transaction
from activation.services import transactions_settle
from offers.codes.models import DiscountCode
from offers.codes.services import CODE_ALPHABET, CODE_LENGTH, KIND_CODE_CLAIM, code_pool_create, code_pool_generate
from tests.codes.factories import BrandFactory, customers_bulk
from tests.factories import customer
from tests.helpers import run_at_once


def pending_claim(user_id, pool) -> Transaction:
    """A PENDING claim as the API writes it, without dispatching it to a worker."""
    return Transaction.objects.create(kind=KIND_CODE_CLAIM, user_id=user_id, payload={"pool_id": pool.id})


def settle_in_threads(txn_ids, *, threads: int, batch_size: int) -> None:
    """Each thread settles its share through the engine, with real row locks and batches."""
    def settle(share):
        for txn_id in share:
            transactions_settle(transaction_id=txn_id, batch_size=batch_size)

    run_at_once(settle, [(txn_ids[i::threads],) for i in range(threads)])


@pytest.mark.django_db
def test_bulk_generation_of_10000_codes_is_unique_and_uses_the_documented_alphabet(capsys):
    # given
    brand = BrandFactory()

    # when: the pool is created generating and the worker's service generates its codes
    started = time.perf_counter()
    pool = code_pool_create(brand=brand, name="Big", total_count=10_000)
    code_pool_generate(pool_id=pool.id)
    elapsed = time.perf_counter() - started

    # then
    codes = list(DiscountCode.objects.filter(pool=pool).values_list("code", flat=True))
    assert len(codes) == 10_000 and len(set(codes)) == 10_000
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert elapsed < 10, f"10,000 codes took {elapsed:.1f}s"
    with capsys.disabled():
        print(f"\n10,000 codes generated in {elapsed:.2f}s")


@pytest.mark.django_db
def test_codes_are_unique_across_pools():
    # given / when
    brand = BrandFactory()
    first = code_pool_create(brand=brand, name="A", total_count=2000)
    second = code_pool_create(brand=brand, name="B", total_count=2000)
    for pool in (first, second):
        code_pool_generate(pool_id=pool.id)

    # then
    assert DiscountCode.objects.filter(pool__in=[first, second]).values("code").distinct().count() == 4000


@pytest.mark.django_db
def test_a_second_claim_returns_the_code_the_customer_already_has():
    # given
    user = customer()
    pool = code_pool_create(brand=BrandFactory(), name="P", total_count=5)
    first, second = pending_claim(user.id, pool), pending_claim(user.id, pool)

    # when
    transactions_settle(transaction_id=first.id, batch_size=1)
    transactions_settle(transaction_id=second.id, batch_size=1)

    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "SUCCEEDED"
    assert first.result["code"] == second.result["code"]
    assert second.result["already_claimed"] is True
    pool.refresh_from_db()
    assert pool.claimed_count == 1
    assert DiscountCode.objects.get(claimed_by=user).code == first.result["code"]


@pytest.mark.django_db
def test_an_empty_pool_refuses_with_sold_out_and_a_pool_outside_its_window_with_pool_not_active():
    # given
    from datetime import timedelta

    from django.utils import timezone

    pool = code_pool_create(brand=BrandFactory(), name="One", total_count=1)
    later = code_pool_create(brand=BrandFactory(), name="Later", total_count=1,
                             valid_from=timezone.now() + timedelta(days=1))
    alice, bob = customer(), customer()
    txns = [pending_claim(alice.id, pool), pending_claim(bob.id, pool), pending_claim(alice.id, later)]

    # when
    for txn in txns:
        transactions_settle(transaction_id=txn.id, batch_size=1)

    # then
    outcomes = [(t.status, t.failure_code) for t in Transaction.objects.filter(pk__in=[t.id for t in txns])
                .order_by("created_at")]
    assert outcomes == [("SUCCEEDED", ""), ("FAILED", "sold_out"), ("FAILED", "pool_not_active")]


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_500_customers_claiming_a_pool_of_100_in_parallel_get_exactly_100_distinct_codes():
    # given
    pool = code_pool_create(brand=BrandFactory(), name="Hot", total_count=100)
    users = customers_bulk(500, prefix="claimer")
    txn_ids = [pending_claim(u.id, pool).id for u in users]

    # when: 10 threads settle in batches, all contending for the pool row
    settle_in_threads(txn_ids, threads=10, batch_size=7)

    # then
    txns = list(Transaction.objects.filter(pk__in=txn_ids))
    succeeded = [t for t in txns if t.status == "SUCCEEDED"]
    assert len(succeeded) == 100
    assert sorted({t.failure_code for t in txns if t.status == "FAILED"}) == ["sold_out"]
    assert len({t.result["code"] for t in succeeded}) == 100
    claimed = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=False)
    assert claimed.count() == 100
    assert claimed.values("claimed_by").distinct().count() == 100
    pool.refresh_from_db()
    assert pool.claimed_count == 100


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_one_customer_claiming_ten_times_in_parallel_gets_one_code():
    # given
    pool = code_pool_create(brand=BrandFactory(), name="Mine", total_count=50)
    user = customers_bulk(1, prefix="eager")[0]
    txn_ids = [pending_claim(user.id, pool).id for _ in range(10)]

    # when
    settle_in_threads(txn_ids, threads=10, batch_size=1)

    # then
    txns = list(Transaction.objects.filter(pk__in=txn_ids))
    assert {t.status for t in txns} == {"SUCCEEDED"}
    assert len({t.result["code"] for t in txns}) == 1
    assert DiscountCode.objects.filter(claimed_by=user).count() == 1
    pool.refresh_from_db()
    assert pool.claimed_count == 1
