"""The hand-written statements of code pools, built from the models' metadata (a renamed field
fails here, at import). tests/codes/test_sql.py checks each one writes what the ORM would."""
from datetime import datetime
from uuid import UUID

from django.db import connection

from kernel.prepared_sql import column, columns, prepared_cursor, table
from offers.codes.models import DiscountCode

_CODE = table(DiscountCode)
_ID, _POOL, _CLAIMED_BY = column(DiscountCode, "id"), column(DiscountCode, "pool"), column(DiscountCode, "claimed_by")

# Set-based: one statement per chunk of codes; a code that already exists is skipped.
DISCOUNT_CODES_INSERT_SQL = f"""
INSERT INTO {_CODE} ({columns(DiscountCode, "code", "pool")})
SELECT unnest(%s::varchar[]), %s
ON CONFLICT ({column(DiscountCode, "code")}) DO NOTHING
"""


def discount_codes_insert(codes: list[str], *, pool_id: int) -> int:
    """Inserts unclaimed `codes` into pool `pool_id`; how many were new (the others collided)."""
    with connection.cursor() as cursor:
        cursor.execute(DISCOUNT_CODES_INSERT_SQL, [codes, pool_id])
        return cursor.rowcount


def _free_codes_from(condition: str) -> str:
    # The partial index on free codes (pool, id) answers this walk; SKIP LOCKED: a code some
    # other transaction holds is passed over, not waited for (claims themselves run under the pool lock).
    return f"""SELECT {_ID} FROM {_CODE}
                WHERE {_POOL} = %(pool_id)s::bigint AND {_CLAIMED_BY} IS NULL AND {_ID} {condition} %(floor_id)s::bigint
                ORDER BY {_ID} LIMIT %(count)s::integer FOR UPDATE SKIP LOCKED"""


# The ORM's version is a SELECT of the next free code and an UPDATE per claim. Here one
# statement takes the first `count` free codes of the pool and writes them to the claims in
# order (the n-th lowest id to the n-th claim). The walk starts at the pool's floor (no free
# code below it, unless one was skipped as locked), so codes claimed before, whose dead index
# entries linger until a vacuum, are never walked again: the lookup does not slow down as the
# pool empties. Codes below the floor are looked at only when the walk above it runs short
# (the Append below stops once the LIMIT is met).
DISCOUNT_CODES_CLAIM_SQL = f"""
WITH picked AS (
    SELECT free.id, row_number() OVER (ORDER BY free.part, free.id) AS n
      FROM (SELECT 0 AS part, above.{_ID} AS id FROM ({_free_codes_from(">=")}) AS above
            UNION ALL
            SELECT 1, below.{_ID} FROM ({_free_codes_from("<")}) AS below
            LIMIT %(count)s::integer) AS free
), claims AS (
    SELECT * FROM unnest(%(user_ids)s::bigint[], %(transaction_ids)s::uuid[], %(granted_by_ids)s::bigint[])
                  WITH ORDINALITY AS c(user_id, transaction_id, granted_by_id, n)
)
UPDATE {_CODE} AS d
   SET {column(DiscountCode, "claimed_by")} = claims.user_id, {column(DiscountCode, "claimed_at")} = %(at)s::timestamptz,
       {column(DiscountCode, "claim_transaction_id")} = claims.transaction_id,
       {column(DiscountCode, "granted_by")} = claims.granted_by_id
  FROM picked JOIN claims ON claims.n = picked.n
 WHERE d.{_ID} = picked.id AND d.{_CLAIMED_BY} IS NULL
RETURNING claims.n, d.{_ID}, d.{column(DiscountCode, "code")}
"""


def discount_codes_claim(*, pool_id: int, floor_id: int, claims: list[tuple[int, UUID, int | None]],
                         at: datetime) -> list[tuple[int, str] | None]:
    """Hands the next free codes of pool `pool_id` to `claims` ((user id, claim transaction id,
    granted-by id or None), in order) in one statement, the lowest free id first. Returns, per
    claim, (code id, code) or None once the free codes ran out."""
    if not claims:
        return []
    user_ids, transaction_ids, granted_by_ids = (list(values) for values in zip(*claims, strict=True))
    with prepared_cursor() as cursor:
        cursor.execute(DISCOUNT_CODES_CLAIM_SQL, {
            "pool_id": pool_id, "floor_id": floor_id, "count": len(claims), "at": at, "user_ids": user_ids,
            "transaction_ids": transaction_ids, "granted_by_ids": granted_by_ids})
        taken = {n: (code_id, code) for n, code_id, code in cursor.fetchall()}
    return [taken.get(n) for n in range(1, len(claims) + 1)]
