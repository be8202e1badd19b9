"""Code claims settled as one batch decide exactly as the same claims settled one at a time:
every rule (the customer's own code, a repeat within the batch, the validity window, a pool
gone, running out mid-batch, a pool still generating), every code handed out and every row."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activation.models import Transaction
from activation.services import transaction_reverse, transactions_settle
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from offers.codes.sql import discount_codes_insert
from tests.codes.factories import BrandFactory
from tests.factories import customer

pytestmark = pytest.mark.django_db


class World:
    """Pools and customers, and 30 pending claims that run into every rule, written in a
    fixed order; rows are described by position (customer index, code rank in its pool,
    claim index), so two worlds with different ids and random codes compare."""

    def __init__(self, tag: str):
        now = timezone.now()
        brand = BrandFactory(name=f"Brand {tag}")
        self.customers = [customer(username=f"{tag}-c{i}") for i in range(9)]
        self.pools = {
            "small": code_pool_create(brand=brand, name="small", total_count=5),
            "roomy": code_pool_create(brand=brand, name="roomy", total_count=20),
            "expired": code_pool_create(brand=brand, name="expired", total_count=3, valid_from=now - timedelta(days=2),
                                        valid_until=now - timedelta(days=1)),
            "later": code_pool_create(brand=brand, name="later", total_count=3, valid_from=now + timedelta(days=1)),
            "generating": CodePool.objects.create(brand=brand, name="generating", total_count=10, generated_count=2,
                                                  status=CodePool.Status.GENERATING),
        }
        discount_codes_insert([f"{tag}GEN1", f"{tag}GEN2"], pool_id=self.pools["generating"].id)
        # customer 8 already holds a code of `small`, claimed before the batch
        self.settle_one_by_one([self.claim(8, "small")])
        c = self.claim
        self.txns = [
            c(0, "small"), c(1, "small"), c(0, "small"), c(8, "small"), c(2, "small"),
            c(3, "roomy"), c(3, "roomy", granted_by=7), c(4, "small"), c(5, "small"), c(5, "small"),
            c(6, "small"), c(1, "expired"), c(2, "later"), c(4, "generating"), c(5, "generating"),
            c(6, "generating"), c(6, "generating"), c(7, "generating"), c(0, "gone"), c(7, "small"),
            c(8, "roomy", granted_by=0), c(7, "expired"), c(2, "roomy"), c(1, "generating"), c(7, "small"),
            c(0, "roomy"), c(4, "roomy"), c(6, "roomy"), c(5, "roomy"), c(1, "roomy"),
        ]

    def claim(self, who: int, pool: str, granted_by: int | None = None) -> Transaction:
        pool_id = self.pools[pool].id if pool in self.pools else 999_999_999
        payload = {"pool_id": pool_id}
        if granted_by is not None:
            payload.update(granted_by=self.customers[granted_by].id, customer_id=self.customers[who].id)
        return Transaction.objects.create(kind=KIND_CODE_CLAIM, user=self.customers[who], payload=payload)

    @staticmethod
    def settle_one_by_one(txns) -> None:
        for txn in txns:
            transactions_settle(transaction_id=txn.id, batch_size=1)

    def _rank(self, code: DiscountCode) -> tuple[str, int]:
        ids = list(DiscountCode.objects.filter(pool_id=code.pool_id).order_by("id").values_list("id", flat=True))
        return code.pool.name, ids.index(code.id)

    def _who(self, user_id) -> int | None:
        return None if user_id is None else [u.id for u in self.customers].index(user_id)

    def decisions(self) -> list[tuple]:
        rows = {t.pk: t for t in Transaction.objects.filter(pk__in=[t.pk for t in self.txns])}
        described = []
        for txn in self.txns:
            row = rows[txn.pk]
            result = dict(row.result)
            if "code" in result:
                result["code"] = self._rank(DiscountCode.objects.get(code=result["code"]))
                result["pool_id"] = CodePool.objects.get(pk=result["pool_id"]).name
                assert result.pop("claimed_at")
            described.append((row.status, row.failure_code, row.failure_message, result))
        return described

    def rows(self) -> dict:
        txn_index = {t.pk: i for i, t in enumerate(self.txns)}
        pools = {}
        for name, pool in self.pools.items():
            pool.refresh_from_db()
            codes = [(rank, self._who(c.claimed_by_id), self._who(c.granted_by_id),
                      txn_index.get(c.claim_transaction_id, "before" if c.claim_transaction_id else None),
                      c.claimed_at is not None, c.used_at)
                     for rank, c in enumerate(DiscountCode.objects.filter(pool=pool).order_by("id"))]
            pools[name] = (pool.claimed_count, pool.total_count, pool.status, codes)
        return pools


def test_a_batch_of_claims_decides_and_writes_exactly_as_one_at_a_time():
    # given: the same world twice
    one_by_one, batched = World("a"), World("b")

    # when: one world's claims one per settlement, the other's in a single batch
    World.settle_one_by_one(one_by_one.txns)
    with CaptureQueriesContext(connection) as queries:
        finished = transactions_settle(transaction_id=batched.txns[0].id, batch_size=100)

    # then: identical decisions and rows, and every rule was exercised
    assert len(finished) == len(batched.txns)
    assert batched.decisions() == one_by_one.decisions()
    assert batched.rows() == one_by_one.rows()
    outcomes = {(status, code, result.get("already_claimed")) for status, code, _, result in batched.decisions()}
    assert outcomes == {("SUCCEEDED", "", False), ("SUCCEEDED", "", True), ("FAILED", "sold_out", None),
                        ("FAILED", "pool_not_active", None), ("FAILED", "pool_not_ready", None)}
    # one statement hands out the codes of each pool that had any left
    assert sum("WITH picked" in q["sql"] for q in queries.captured_queries) == 3


def test_the_free_code_walk_starts_at_the_pool_floor_and_a_released_code_goes_out_again():
    # given: a pool whose first codes are claimed
    pool = code_pool_create(brand=BrandFactory(), name="floor", total_count=6)
    users = [customer() for _ in range(6)]
    txns = [Transaction.objects.create(kind=KIND_CODE_CLAIM, user=u, payload={"pool_id": pool.id}) for u in users[:3]]
    transactions_settle(transaction_id=txns[0].id, batch_size=10)
    ids = list(DiscountCode.objects.filter(pool=pool).order_by("id").values_list("id", flat=True))
    pool.refresh_from_db()
    assert pool.free_code_floor_id == ids[2] + 1

    # when: the second claim is reversed (its code is free again, below the floor), then three more claims
    transaction_reverse(transaction_id=txns[1].id, requested_by_id=customer(is_staff=True).id, as_staff=True)
    pool.refresh_from_db()
    floor_after_release = pool.free_code_floor_id
    more = [Transaction.objects.create(kind=KIND_CODE_CLAIM, user=u, payload={"pool_id": pool.id}) for u in users[3:]]
    transactions_settle(transaction_id=more[0].id, batch_size=10)

    # then: the released code went out first, then the next ones in id order; the floor follows
    assert floor_after_release == ids[1]
    holders = dict(DiscountCode.objects.filter(pool=pool).values_list("id", "claimed_by_id"))
    assert [holders[i] for i in ids] == [users[0].id, users[3].id, users[2].id, users[4].id, users[5].id, None]
    pool.refresh_from_db()
    assert (pool.claimed_count, pool.free_code_floor_id) == (5, ids[4] + 1)


def test_a_floor_past_a_free_code_still_finds_it():
    # given: a pool whose floor claims (wrongly) that its first codes are gone
    pool = code_pool_create(brand=BrandFactory(), name="hint", total_count=3)
    ids = list(DiscountCode.objects.filter(pool=pool).order_by("id").values_list("id", flat=True))
    CodePool.objects.filter(pk=pool.pk).update(free_code_floor_id=ids[2] + 1)
    users = [customer() for _ in range(4)]
    txns = [Transaction.objects.create(kind=KIND_CODE_CLAIM, user=u, payload={"pool_id": pool.id}) for u in users]

    # when
    transactions_settle(transaction_id=txns[0].id, batch_size=10)

    # then: every code went out, in id order, and the fourth claim found the pool sold out
    holders = dict(DiscountCode.objects.filter(pool=pool).values_list("id", "claimed_by_id"))
    assert [holders[i] for i in ids] == [u.id for u in users[:3]]
    assert Transaction.objects.get(pk=txns[3].pk).failure_code == "sold_out"


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_many_concurrent_claims_through_the_worker_never_hand_out_more_codes_than_the_pool_has(live_worker):
    # given: a pool of 60 codes and 150 customers, each claiming twice
    from offers.codes.services import code_claim_request
    from tests.codes.factories import customers_bulk
    from tests.conftest import settlement_queue_drain
    from tests.helpers import run_at_once, wait_until_terminal

    live_worker.settlement_resume()
    pool = code_pool_create(brand=BrandFactory(), name="rush", total_count=60)
    people = customers_bulk(150, prefix="rush")
    accepted = []

    def claim_all(share):
        for person in share:
            accepted.append(code_claim_request(user_id=person.id, pool=pool, idempotency_key=None).transaction.id)

    # when: 20 clients accept the 300 claims at once; the worker settles them in batches, and the
    # test drains beside it, so batches of one pool contend for its row
    run_at_once(claim_all, [(people[i::20] * 2,) for i in range(20)])
    run_at_once(lambda: transactions_settle(batch_size=25), [() for _ in range(4)])
    txns = wait_until_terminal(accepted, timeout=120)

    # then: 60 customers hold one distinct code each; each customer's two claims agree
    assert len(txns) == 300
    holders = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=False)
    assert holders.count() == 60 and holders.values("claimed_by").distinct().count() == 60
    assert {t.failure_code for t in txns if t.status == "FAILED"} == {"sold_out"}
    by_customer: dict[int, list[Transaction]] = {}
    for txn in txns:
        by_customer.setdefault(txn.user_id, []).append(txn)
    held = dict(holders.values_list("claimed_by", "code"))
    for user_id, pair in by_customer.items():
        if user_id in held:
            assert [t.result["code"] for t in pair] == [held[user_id]] * 2
            assert sorted(t.result["already_claimed"] for t in pair) == [False, True]
        else:
            assert [t.failure_code for t in pair] == ["sold_out"] * 2
    pool.refresh_from_db()
    assert pool.claimed_count == 60
    settlement_queue_drain(timeout=60)  # the outbox drains of these outcomes run before the tables are truncated
    live_worker.wait_idle(("notifications.", "activation."), timeout=60)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_claim_batches_racing_generation_hand_out_only_codes_that_exist_each_once():
    # given: a pool generating in chunks of 50 (each chunk's codes above the pool's floor) and
    # 400 claims by 200 customers, drained in batches while it generates
    import threading

    from django.db import connection as db

    from offers.codes.services import code_pool_generate
    from tests.codes.factories import customers_bulk
    from tests.codes.test_generation import generating_pool
    from tests.helpers import run_at_once

    pool = generating_pool(3_000)
    people = customers_bulk(200, prefix="gen-racer")
    txn_ids = [Transaction.objects.create(kind=KIND_CODE_CLAIM, user=person, payload={"pool_id": pool.id}).id
               for person in people * 2]
    started = threading.Event()

    def generate():
        started.set()
        code_pool_generate(pool_id=pool.id, chunk_size=50)

    def drain():
        started.wait()
        while transactions_settle(batch_size=20).claimed:
            pass

    # when
    run_at_once(lambda job: job(), [(generate,), (drain,), (drain,), (drain,)])
    db.close()

    # then: every claim decided; each holder has one code; counters match the rows
    txns = list(Transaction.objects.filter(pk__in=txn_ids))
    assert {t.status for t in txns} <= {"SUCCEEDED", "FAILED"}
    assert {t.failure_code for t in txns if t.status == "FAILED"} <= {"pool_not_ready"}
    claimed = DiscountCode.objects.filter(pool=pool, claimed_by__isnull=False)
    holders = dict(claimed.values_list("claimed_by", "code"))
    assert claimed.count() == len(holders) > 0
    assert {t.result["code"] for t in txns if t.status == "SUCCEEDED"} == set(holders.values())
    pool.refresh_from_db()
    assert (pool.status, pool.generated_count) == ("ready", 3_000)
    assert pool.claimed_count == claimed.count() == len({t.user_id for t in txns if t.status == "SUCCEEDED"})
    assert DiscountCode.objects.filter(pool=pool).count() == 3_000
