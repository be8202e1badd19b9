"""The hand-written statements of campaigns, built from the models' metadata (a renamed field
fails here, at import). tests/campaigns/test_sql.py checks each one writes what the ORM would."""
from datetime import datetime
from uuid import UUID

from kernel.fastjson import json_text
from kernel.prepared_sql import columns, prepared_cursor, table
from offers.campaigns.models import CampaignRedemption

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

