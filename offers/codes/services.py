"""Every write of code pools: creation with bulk code generation, and claim requests.

Codes: CODE_LENGTH (12) characters drawn with `secrets` from CODE_ALPHABET, 31 characters
with no 0/O, 1/I/L lookalikes: 31**12 ~ 7.9e17 (~59 bits) possible codes, so guessing a
valid one is hopeless and collisions are rare; the unique index decides, and a collision
(with this or any other pool) is simply drawn again.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from django.db import connection
from django.db import transaction as db_transaction

from activation.services import Accepted, transaction_accept
from offers.codes.models import Brand, CodePool, DiscountCode

KIND_CODE_CLAIM = "code_claim"

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
CODE_INSERT_CHUNK = 20_000
MAX_POOL_SIZE = 1_000_000


def discount_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


_INSERT_SQL = f"""
INSERT INTO {DiscountCode._meta.db_table} (code, pool_id)
SELECT unnest(%s::varchar[]), %s
ON CONFLICT (code) DO NOTHING
"""


def discount_codes_generate(*, pool: CodePool, count: int) -> int:
    """Inserts `count` fresh codes for `pool` with set-based INSERTs (one statement per
    CODE_INSERT_CHUNK codes, never one save per code). Codes that collide with an existing
    one are skipped by ON CONFLICT and drawn again until the count is reached."""
    missing = count
    with connection.cursor() as cursor:
        while missing > 0:
            batch_size = min(missing, CODE_INSERT_CHUNK)
            batch: set[str] = set()
            while len(batch) < batch_size:
                batch.add(discount_code_new())
            cursor.execute(_INSERT_SQL, [list(batch), pool.id])
            missing -= cursor.rowcount
    return count


def code_pool_create(*, brand: Brand, name: str, total_count: int, description: str = "",
                     valid_from: datetime | None = None, valid_until: datetime | None = None,
                     created_by_id: int | None = None) -> CodePool:
    """Creates the pool and all its codes in one database transaction: a pool is never
    visible with fewer codes than it promises."""
    with db_transaction.atomic():
        pool = CodePool.objects.create(brand=brand, name=name, description=description, total_count=total_count,
                                       generated_count=total_count, valid_from=valid_from, valid_until=valid_until,
                                       created_by_id=created_by_id)
        discount_codes_generate(pool=pool, count=total_count)
    return pool


CODE_POOL_COUNTERS = frozenset({"total_count", "claimed_count"})


def code_pool_update(*, pool: CodePool, **fields) -> CodePool:
    """Changes a pool's descriptive fields (name, description, brand, validity window) on the
    locked row and writes only those columns, so an edit never overwrites the claim counter
    that settlement moves under the same lock. The counts are not editable here."""
    if CODE_POOL_COUNTERS & fields.keys():
        raise ValueError(f"{sorted(CODE_POOL_COUNTERS & fields.keys())} change only through code generation and claims")
    with db_transaction.atomic():
        locked = CodePool.objects.select_for_update().get(pk=pool.pk)
        for name, value in fields.items():
            setattr(locked, name, value)
        if fields:
            locked.save(update_fields=list(fields))
    return locked


def brand_create(*, name: str, staff_ids: list[int] | None = None) -> Brand:
    with db_transaction.atomic():
        brand = Brand.objects.create(name=name)
        if staff_ids:
            brand.staff.set(staff_ids)
    return brand


def code_claim_request(*, user_id: int, pool: CodePool, idempotency_key: str | None) -> Accepted:
    """Accepts a claim; settlement hands out the code (or the one the customer already has)."""
    return transaction_accept(kind=KIND_CODE_CLAIM, user_id=user_id, payload={"pool_id": pool.id},
                              idempotency_key=idempotency_key)


def discount_codes_use(*, uses: dict, at) -> None:
    """Marks codes spent by the redemptions that used them ({code id: transaction id}), with the
    customers' accounts locked. The condition on `used_at` is the database's last word: a code
    already spent is never spent twice."""
    for code_id, transaction_id in uses.items():
        if not DiscountCode.objects.filter(pk=code_id, used_at__isnull=True).update(
                used_at=at, used_transaction_id=transaction_id):
            raise RuntimeError(f"discount code {code_id} was already used")


def discount_code_release(*, transaction_id) -> int:
    """A reversed redemption gives its code back to its holder, usable again."""
    return DiscountCode.objects.filter(used_transaction_id=transaction_id).update(used_at=None,
                                                                                  used_transaction_id=None)
