"""Fixtures written in bulk (no password hashing, no per-row round trips) and the
invariants checked after every scenario. Runs inside the harness process with Django set up."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Account, CustomerProfile, LedgerEntry, User
from activation.models import Transaction
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.campaigns.services import KIND_DISCOUNT_REDEMPTION
from offers.models import Offer

BALANCE = Decimal("1000000.00")


def customers_create(n: int, prefix: str) -> list[int]:
    """n customers, each with a profile and an account funded through one ledger entry."""
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"{prefix}-{i}", password="!") for i in range(n)])
        CustomerProfile.objects.bulk_create([CustomerProfile(user=u) for u in users])
        accounts = Account.objects.bulk_create([Account(user=u, currency="EUR", balance=BALANCE) for u in users])
        LedgerEntry.objects.bulk_create([LedgerEntry(account=a, amount=BALANCE, balance_after=BALANCE,
                                                     reason=LedgerEntry.Reason.TOP_UP, description="bench")
                                         for a in accounts])
    return [u.id for u in users]


def campaigns_create(n: int, prefix: str, budget: Decimal = Decimal("9000000000.00")) -> list[int]:
    today = date.today()
    campaigns = Campaign.objects.bulk_create([
        Campaign(name=f"{prefix} {i}", target="cart", kind="flat", value=Decimal("1.00"), currency="EUR",
                 starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=30), timezone="UTC",
                 total_budget=budget, status="active") for i in range(n)])
    return [c.id for c in campaigns]


def offer_create() -> int:
    return Offer.objects.create(name="bench offer", category=Offer.Category.INTERNET, price=Decimal("1.00"),
                                currency="EUR", validity_days=30, is_active=True).id


def redemptions_preload(user_ids: list[int], campaign_ids: list[int], n: int) -> list[uuid.UUID]:
    """n PENDING redemptions exactly as the API writes them, round-robin over users and campaigns."""
    now = timezone.now()
    txns = [Transaction(kind=KIND_DISCOUNT_REDEMPTION, user_id=user_ids[i % len(user_ids)], currency="EUR",
                        payload={"campaign_ids": [campaign_ids[i % len(campaign_ids)]], "cart_value": "100.00",
                                 "delivery_charge": "0", "currency": "EUR", "order_reference": f"bench-{i}"},
                        created_at=now + timedelta(microseconds=i))
            for i in range(n)]
    for start in range(0, n, 5000):
        Transaction.objects.bulk_create(txns[start:start + 5000])
    return [t.id for t in txns]


def code_pool_create(n_codes: int, prefix: str) -> int:
    """A ready pool of n_codes codes (written in bulk, as generation would leave them)."""
    from offers.codes.models import Brand, CodePool, DiscountCode

    with transaction.atomic():
        brand = Brand.objects.create(name=f"{prefix} brand")
        pool = CodePool.objects.create(brand=brand, name=f"{prefix} pool", total_count=n_codes,
                                       generated_count=n_codes, status=CodePool.Status.READY)
        for start in range(0, n_codes, 5000):
            DiscountCode.objects.bulk_create([DiscountCode(pool=pool, code=f"{prefix}-{i:08d}")
                                              for i in range(start, min(n_codes, start + 5000))])
    return pool.id


def flash_promo_create(user_ids: list[int], quantity: int, prefix: str) -> int:
    """A running promo of `quantity` units whose segment and radius take in every one of
    `user_ids` (placed at the store), each allowed one unit, holds of an hour."""
    from accounts.models import Segment
    from offers.flash.models import Product, Store
    from offers.flash.services import flash_promo_create as promo_create

    segment = Segment.objects.create(slug=f"{prefix}-segment", name=f"{prefix} segment")
    store = Store.objects.create(name=f"{prefix} store", address="bench", latitude=Decimal("48.856600"),
                                 longitude=Decimal("2.352200"))
    CustomerProfile.objects.filter(user_id__in=user_ids).update(segment=segment, latitude=store.latitude,
                                                                longitude=store.longitude)
    product = Product.objects.create(store=store, name=f"{prefix} product", regular_price=Decimal("100.00"),
                                     currency="EUR")
    now = timezone.now()
    return promo_create(product=product, promo_price=Decimal("49.00"), starts_at=now - timedelta(minutes=1),
                        ends_at=now + timedelta(hours=2), segments=[segment], radius_km=Decimal("5"),
                        quantity=quantity, hold_seconds=3600).id


def requests_preload(kind: str, user_ids: list[int], payload: dict, n: int) -> list[uuid.UUID]:
    """n PENDING transactions of `kind` with `payload`, one per customer, as the API writes them."""
    now = timezone.now()
    txns = [Transaction(kind=kind, user_id=user_ids[i % len(user_ids)], payload=payload,
                        created_at=now + timedelta(microseconds=i)) for i in range(n)]
    for start in range(0, n, 5000):
        Transaction.objects.bulk_create(txns[start:start + 5000])
    return [t.id for t in txns]


def settleable_count() -> int:
    return Transaction.objects.filter(status__in=Transaction.SETTLEABLE).count()


def last_settled_at(*, since: float) -> float | None:
    """The latest settled_at (epoch seconds) of transactions settled after `since`."""
    from datetime import datetime, timezone as tz

    from django.db.models import Max

    last = (Transaction.objects.filter(settled_at__gte=datetime.fromtimestamp(since, tz.utc))
            .aggregate(last=Max("settled_at"))["last"])
    return last.timestamp() if last else None


def stage_times(ids) -> dict[str, tuple[float, float | None, float | None]]:
    """Per transaction id: (created_at, processing_started_at, settled_at) as epoch seconds.
    created_at is stamped by the web process, processing_started_at by the claim (PostgreSQL's
    transaction time), settled_at by the settling worker just before it writes the outcome."""
    with connection.cursor() as cursor:
        cursor.execute(f"""SELECT id::text, extract(epoch FROM created_at), extract(epoch FROM processing_started_at),
                                  extract(epoch FROM settled_at)
                             FROM {Transaction._meta.db_table} WHERE id = ANY(%s::uuid[])""", [list(ids)])
        return {row[0]: tuple(None if v is None else float(v) for v in row[1:]) for row in cursor.fetchall()}


def autovacuum_runs_since(since: float) -> list[dict]:
    """The autovacuum and autoanalyze runs of our tables that ended after `since` (epoch
    seconds): table, kind and seconds after `since`. pg_stat_user_tables keeps only each
    table's last run, so two runs of one table in the window show as one."""
    with connection.cursor() as cursor:
        cursor.execute("""SELECT relname, 'autovacuum', extract(epoch FROM last_autovacuum) FROM pg_stat_user_tables
                           WHERE last_autovacuum >= to_timestamp(%s)
                          UNION ALL
                          SELECT relname, 'autoanalyze', extract(epoch FROM last_autoanalyze) FROM pg_stat_user_tables
                           WHERE last_autoanalyze >= to_timestamp(%s)
                          ORDER BY 3""", [since, since])
        return [{"table": table, "kind": kind, "ended_after_seconds": round(float(at) - since, 2)}
                for table, kind, at in cursor.fetchall()]


def terminal_count(ids_since=None) -> int:
    return Transaction.objects.filter(status__in=Transaction.TERMINAL).count()


def invariants_check() -> dict[str, int]:
    """Each value is a number of violations; all must be 0."""
    acc, led = Account._meta.db_table, LedgerEntry._meta.db_table
    cam, red = Campaign._meta.db_table, CampaignRedemption._meta.db_table
    txn = Transaction._meta.db_table
    queries = {
        "balance_differs_from_ledger": f"""
            SELECT count(*) FROM {acc} a LEFT JOIN (SELECT account_id, sum(amount) s FROM {led} GROUP BY account_id) l
                ON l.account_id = a.id WHERE a.balance <> COALESCE(l.s, 0)""",
        "spent_differs_from_redemptions": f"""
            SELECT count(*) FROM {cam} c LEFT JOIN (SELECT campaign_id, sum(amount) s, count(*) n FROM {red}
                 WHERE reversed_at IS NULL GROUP BY campaign_id) r ON r.campaign_id = c.id
             WHERE c.spent_amount <> COALESCE(r.s, 0) OR c.uses_count <> COALESCE(r.n, 0)""",
        "spent_over_budget": f"SELECT count(*) FROM {cam} WHERE spent_amount > total_budget",
        "non_terminal_transactions": f"SELECT count(*) FROM {txn} WHERE status IN ('PENDING', 'PROCESSING')",
        "succeeded_redemption_without_row": f"""
            SELECT count(*) FROM {txn} t LEFT JOIN {red} r ON r.transaction_id = t.id
             WHERE t.kind = '{KIND_DISCOUNT_REDEMPTION}' AND t.status = 'SUCCEEDED' AND r.id IS NULL""",
        "redemption_of_unsucceeded_transaction": f"""
            SELECT count(*) FROM {red} r JOIN {txn} t ON t.id = r.transaction_id
             WHERE t.status NOT IN ('SUCCEEDED', 'REVERSED')""",
        # code pools: the counter is the claimed rows, never past the total; a claim is a success
        "pool_count_differs_from_claimed_codes": """
            SELECT count(*) FROM offers_codepool p LEFT JOIN (SELECT pool_id, count(*) n FROM offers_discountcode
                 WHERE claimed_by_id IS NOT NULL GROUP BY pool_id) c ON c.pool_id = p.id
             WHERE p.claimed_count <> COALESCE(c.n, 0) OR p.claimed_count > p.total_count""",
        "claimed_code_without_succeeded_claim": f"""
            SELECT count(*) FROM offers_discountcode d LEFT JOIN {txn} t ON t.id = d.claim_transaction_id
             WHERE d.claimed_by_id IS NOT NULL AND d.granted_by_id IS NULL AND t.status IS DISTINCT FROM 'SUCCEEDED'""",
        # flash promos: units sold or held (unexpired) never exceed the quantity
        "flash_units_over_quantity": """
            SELECT count(*) FROM offers_flashpromo p JOIN (SELECT promo_id, count(*) n FROM offers_flashreservation
                 WHERE status = 'completed' OR (status = 'held' AND expires_at > now()) GROUP BY promo_id) r ON r.promo_id = p.id
             WHERE r.n > p.quantity""",
    }
    out = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            out[name] = cursor.fetchone()[0]
    return out


def status_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, count(*) FROM {Transaction._meta.db_table} GROUP BY status")
        return dict(cursor.fetchall())


def status_counts_of(ids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(ids), 5000):
        for status, n in (Transaction.objects.filter(pk__in=ids[start:start + 5000]).values_list("status")
                          .annotate(n=models.Count("id")).values_list("status", "n")):
            counts[status] = counts.get(status, 0) + n
    return counts
