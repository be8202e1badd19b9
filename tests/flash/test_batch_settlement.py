"""Flash reservations settled as one batch decide exactly as the same reservations settled one
at a time: eligibility (not running, segment, distance), a hold already there (from before or
from earlier in the batch), the per-customer limit, a lapsed hold freeing its unit, selling
out mid-batch; every hold written alike."""
from datetime import timedelta
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activation.models import Transaction
from activation.services import transactions_settle
from offers.flash import services
from offers.flash.models import FlashReservation
from offers.flash.services import KIND_FLASH_RESERVATION
from tests.factories import SegmentFactory, customer
from tests.flash.factories import STORE_LON, ProductFactory, latitude_north_of_store, running_promo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_expiry_messages(monkeypatch):
    """Expiry is scheduled after commit, which these tests never reach; said explicitly."""
    monkeypatch.setattr(services, "flash_holds_expiry_schedule", lambda **kwargs: None)


class World:
    """Promos, customers and 30 pending reservations that run into every rule, written in a
    fixed order; rows are described by position so two worlds compare."""

    def __init__(self, tag: str):
        gold, silver = SegmentFactory(slug=f"gold-{tag}"), SegmentFactory(slug=f"silver-{tag}")
        near = {"latitude": latitude_north_of_store(1.0), "longitude": STORE_LON}
        self.customers = [customer(username=f"{tag}-c{i}", segment=gold, **near) for i in range(8)]
        self.customers.append(customer(username=f"{tag}-far", segment=gold, latitude=latitude_north_of_store(9.0),
                                       longitude=STORE_LON))
        self.customers.append(customer(username=f"{tag}-silver", segment=silver, **near))
        product = ProductFactory()
        self.promos = {
            "tight": running_promo(segments=[gold], quantity=4, product=product),
            "pair": running_promo(segments=[gold], quantity=10, max_units_per_customer=2, product=product),
            "later": running_promo(segments=[gold], quantity=5, starts_in=timedelta(minutes=30), product=product),
            "tiny": running_promo(segments=[gold], quantity=2, product=product),
        }
        now = timezone.now()
        self.before(0, "tiny", FlashReservation.Status.HELD, expires_at=now - timedelta(seconds=1))  # lapsed
        self.before(1, "tiny", FlashReservation.Status.COMPLETED)
        self.before(2, "pair", FlashReservation.Status.COMPLETED)
        self.before(2, "pair", FlashReservation.Status.COMPLETED)
        self.before(3, "pair", FlashReservation.Status.COMPLETED)
        self.before(4, "pair", FlashReservation.Status.HELD)
        r = self.reserve
        self.txns = [
            r(0, "tight"), r(1, "tight"), r(0, "tight"), r(8, "tight"), r(9, "tight"),
            r(2, "tight"), r(3, "tight"), r(4, "tight"), r(5, "tight"), r(6, "tight"),
            r(2, "pair"), r(3, "pair"), r(3, "pair"), r(4, "pair"), r(5, "pair"),
            r(6, "later"), r(0, "tiny"), r(1, "tiny"), r(5, "tiny"), r(0, "tiny"),
            r(7, "pair"), r(7, "pair"), r(9, "pair"), r(8, "pair"), r(7, "tight"),
            r(6, "pair"), r(0, "pair"), r(1, "pair"), r(5, "gone"), r(1, "pair"),
        ]

    def before(self, who: int, promo: str, status: str, expires_at=None) -> None:
        FlashReservation.objects.create(promo=self.promos[promo], user=self.customers[who], status=status,
                                        transaction_id=uuid4(), price=self.promos[promo].promo_price,
                                        expires_at=expires_at or timezone.now() + timedelta(minutes=5))

    def reserve(self, who: int, promo: str) -> Transaction:
        promo_id = self.promos[promo].id if promo in self.promos else 999_999_999
        return Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=self.customers[who],
                                          payload={"promo_id": promo_id})

    def _hold(self, reservation_id: int) -> tuple[str, int]:
        reservation = FlashReservation.objects.get(pk=reservation_id)
        ids = list(FlashReservation.objects.filter(promo_id=reservation.promo_id).order_by("id")
                   .values_list("id", flat=True))
        return self._promo_name(reservation.promo_id), ids.index(reservation_id)

    def _promo_name(self, promo_id: int) -> str:
        return next(name for name, promo in self.promos.items() if promo.id == promo_id)

    def decisions(self) -> list[tuple]:
        rows = {t.pk: t for t in Transaction.objects.filter(pk__in=[t.pk for t in self.txns])}
        described = []
        for txn in self.txns:
            row = rows[txn.pk]
            result = dict(row.result)
            if "reservation_id" in result:
                hold = FlashReservation.objects.get(pk=result["reservation_id"])
                assert result.pop("expires_at") == hold.expires_at.isoformat()
                assert result.pop("complete_url", f"/{hold.id}/complete/").endswith(f"/{hold.id}/complete/")
                result["reservation_id"] = self._hold(hold.id)
            if "promo_id" in result:
                result["promo_id"] = self._promo_name(result["promo_id"])
            described.append((row.status, row.failure_code, row.failure_message, result))
        return described

    def rows(self) -> dict:
        txn_index = {t.pk: i for i, t in enumerate(self.txns)}
        who = {u.id: i for i, u in enumerate(self.customers)}
        return {name: [(who[r.user_id], r.status, r.price, txn_index.get(r.transaction_id, "before"),
                        r.status != "held" or round((r.expires_at - r.created_at).total_seconds()))
                       for r in FlashReservation.objects.filter(promo=promo).order_by("id")]
                for name, promo in self.promos.items()}


def test_a_batch_of_reservations_decides_and_writes_exactly_as_one_at_a_time():
    # given: the same world twice
    one_by_one, batched = World("a"), World("b")

    # when: one world's reservations one per settlement, the other's in a single batch
    for txn in one_by_one.txns:
        transactions_settle(transaction_id=txn.id, batch_size=1)
    with CaptureQueriesContext(connection) as queries:
        finished = transactions_settle(transaction_id=batched.txns[0].id, batch_size=100)

    # then: identical decisions and rows, and every rule was exercised
    assert len(finished) == len(batched.txns)
    assert batched.decisions() == one_by_one.decisions()
    assert batched.rows() == one_by_one.rows()
    outcomes = {(status, code, result.get("reason")) for status, code, _, result in batched.decisions()}
    assert outcomes == {("SUCCEEDED", "", None), ("FAILED", "sold_out", None), ("FAILED", "already_holding", None),
                        ("FAILED", "customer_limit_reached", None), ("FAILED", "not_eligible", "not_running"),
                        ("FAILED", "not_eligible", "segment"), ("FAILED", "not_eligible", "distance")}
    # the holds of each promo that gave any went in with one statement
    holds_table = FlashReservation._meta.db_table
    assert sum(q["sql"].startswith(f'INSERT INTO "{holds_table}"') for q in queries.captured_queries) == 3
    for promo in batched.promos.values():
        taken = FlashReservation.objects.filter(promo=promo, status__in=["held", "completed"]).count()
        assert taken <= promo.quantity


def live_workers_idle() -> None:
    """The outcomes' side effects (the outbox drain) reach a live worker of the session, if one
    runs: let it finish them before pytest-django truncates the tables under it."""
    from tests.conftest import LiveWorker, settlement_queue_drain

    for worker in LiveWorker.started:
        if worker.popen and worker.popen.poll() is None:
            settlement_queue_drain(timeout=60)
            worker.wait_idle(("notifications.", "activation."), timeout=60)


def drain_until_empty() -> None:
    while transactions_settle(batch_size=25).claimed:
        pass


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_many_concurrent_reservation_batches_never_take_more_units_than_the_promo_has():
    # given: 40 units, a cap of one per customer, 120 customers reserving twice each; settled
    # here, not by a worker (its expiry messages would outlive the test: see no_expiry_messages)
    from tests.codes.factories import customers_bulk
    from tests.helpers import run_at_once

    gold = SegmentFactory(slug="gold-rush")
    promo = running_promo(segments=[gold], quantity=40, hold_seconds=600)
    people = customers_bulk(120, prefix="flash-rush", segment=gold, latitude=latitude_north_of_store(1.0),
                            longitude=STORE_LON)
    txn_ids = [Transaction.objects.create(kind=KIND_FLASH_RESERVATION, user=person, payload={"promo_id": promo.id}).id
               for person in people * 2]

    # when: 8 threads drain them in batches of 25, all contending for the promo row
    run_at_once(drain_until_empty, [() for _ in range(8)])

    # then: 40 holds of 40 customers; every other reservation refused
    txns = list(Transaction.objects.filter(pk__in=txn_ids))
    assert {t.status for t in txns} == {"SUCCEEDED", "FAILED"}
    holds = FlashReservation.objects.filter(promo=promo)
    assert holds.filter(status="held").count() == holds.count() == 40
    assert holds.values("user").distinct().count() == 40
    assert {t.failure_code for t in txns if t.status == "FAILED"} == {"sold_out", "already_holding"}
    assert {t.user_id for t in txns if t.status == "SUCCEEDED"} == set(holds.values_list("user_id", flat=True))
    live_workers_idle()
