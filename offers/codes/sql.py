"""The hand-written statements of code pools, built from the models' metadata (a renamed field
fails here, at import). tests/codes/test_sql.py checks each one writes what the ORM would."""
from django.db import connection

from kernel.prepared_sql import column, columns, table
from offers.codes.models import DiscountCode

# Set-based: one statement per chunk of codes; a code that already exists is skipped.
DISCOUNT_CODES_INSERT_SQL = f"""
INSERT INTO {table(DiscountCode)} ({columns(DiscountCode, "code", "pool")})
SELECT unnest(%s::varchar[]), %s
ON CONFLICT ({column(DiscountCode, "code")}) DO NOTHING
"""


def discount_codes_insert(codes: list[str], *, pool_id: int) -> int:
    """Inserts unclaimed `codes` into pool `pool_id`; how many were new (the others collided)."""
    with connection.cursor() as cursor:
        cursor.execute(DISCOUNT_CODES_INSERT_SQL, [codes, pool_id])
        return cursor.rowcount
