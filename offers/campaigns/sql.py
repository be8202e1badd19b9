"""The hand-written statements of campaigns, built from the models' metadata (a renamed field
fails here, at import). tests/campaigns/test_sql.py checks each one writes what the ORM would."""
from datetime import datetime
from uuid import UUID

from kernel.fastjson import json_text
from kernel.prepared_sql import column, columns, prepared_cursor, table
from offers.campaigns.models import Campaign, CampaignRedemption

# A redemption row as it travels in the batch's JSON parameter: each key is the field's
# attribute name, with the type PostgreSQL reads it as.
REDEMPTION_RECORD = {"campaign": "integer", "user": "integer", "transaction": "uuid", "amount": "numeric",
                     "base_value": "numeric", "cart_value": "numeric", "delivery_charge": "numeric",
                     "currency": "text", "order_reference": "text", "local_day": "date"}
_KEYS = [CampaignRedemption._meta.get_field(name).attname for name in REDEMPTION_RECORD]
_RECORD_TYPES = ", ".join(f"{key} {sql_type}" for key, sql_type in zip(_KEYS, REDEMPTION_RECORD.values()))

# A batch of redemptions in one INSERT; the rows travel as one JSON parameter (much cheaper to
# build than the ORM's bulk_create parameters).
REDEMPTIONS_INSERT_SQL = f"""
INSERT INTO {table(CampaignRedemption)}
       ({columns(CampaignRedemption, *REDEMPTION_RECORD, "created_at", "reversal_keeps_daily_use")})
SELECT {", ".join(f"r.{key}" for key in _KEYS)}, %(now)s, false
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r({_RECORD_TYPES})
RETURNING {columns(CampaignRedemption, "id", "transaction", "campaign")}
"""


def campaign_redemptions_insert_returning(rows: list[dict], *, now: datetime) -> dict[tuple[UUID, int], int]:
    """Inserts live redemptions created `now`, each row a dict keyed as REDEMPTION_RECORD's
    attribute names (decimals and days as strings); their ids by (transaction id, campaign id)."""
    with prepared_cursor() as cursor:
        cursor.execute(REDEMPTIONS_INSERT_SQL, {"now": now, "rows": json_text(rows)})
        return {(transaction_id, campaign_id): pk for pk, transaction_id, campaign_id in cursor.fetchall()}



# The live redemptions of the given orders (user id, order reference) and their campaigns'
# target and stackability, oldest first. Each order is looked up on both columns of
# redemption_campaign_once_per_order: the ORM's `user IN (...) AND order_reference IN (...)`
# walks every live redemption of the batch's customers instead, which grows with their history
# (docs/PERFORMANCE.md), and is planned anew for every batch.
_REDEMPTION = table(CampaignRedemption)
_CAMPAIGN = table(Campaign)
ORDERS_REDEMPTIONS_SQL = f"""
SELECT r.{column(CampaignRedemption, "user")}, r.{column(CampaignRedemption, "order_reference")},
       r.{column(CampaignRedemption, "campaign")}, c.{column(Campaign, "target")}, c.{column(Campaign, "is_stackable")},
       {", ".join(f"r.{column(CampaignRedemption, name)}" for name in ("amount", "cart_value", "delivery_charge",
                                                                       "currency"))}
  FROM unnest(%(user_ids)s::bigint[], %(references)s::text[]) AS o(user_id, reference)
  JOIN {_REDEMPTION} r ON r.{column(CampaignRedemption, "user")} = o.user_id
                      AND r.{column(CampaignRedemption, "order_reference")} = o.reference
                      AND r.{column(CampaignRedemption, "reversed_at")} IS NULL
  JOIN {_CAMPAIGN} c ON c.{column(Campaign, "id")} = r.{column(CampaignRedemption, "campaign")}
 ORDER BY r.{column(CampaignRedemption, "id")}
"""


def orders_redemptions(orders: set[tuple[int, str]]) -> list[tuple]:
    """For each live redemption of the given (user id, order reference) orders: (user id,
    order reference, campaign id, campaign target, campaign stackable, amount, cart value,
    delivery charge, currency), oldest first."""
    if not orders:
        return []
    user_ids, references = (list(values) for values in zip(*orders))
    with prepared_cursor() as cursor:
        cursor.execute(ORDERS_REDEMPTIONS_SQL, {"user_ids": user_ids, "references": references})
        return cursor.fetchall()
