"""The hot-path JSON encoder says what json.dumps says (kernel/fastjson.py)."""
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from kernel.fastjson import json_bytes, json_loads, json_text


def test_it_encodes_the_same_data_as_the_standard_library():
    # given: a status payload, with what results and rows carry besides plain JSON
    txn_id = uuid.uuid4()
    settled = datetime(2026, 11, 29, 6, 0, 1, 123456, tzinfo=timezone.utc)
    payload = {"transaction_id": str(txn_id), "status": "SUCCEEDED", "failure_code": None, "user_id": 7,
               "result": {"discount": "10.00", "note": "café ✓", "nested": [1, 2.5, True]},
               "settled_at": settled.isoformat()}
    rich = {"id": txn_id, "amount": Decimal("12.30"), "at": settled, 3: "int key"}

    # when / then: plain JSON decodes to the same value either way
    assert json_loads(json_bytes(payload)) == json.loads(json.dumps(payload)) == payload
    assert json.loads(json_text(payload)) == payload
    # UUIDs, Decimals and datetimes become the strings settlement writes into jsonb; int keys
    # become strings, as with json.dumps
    assert json.loads(json_text(rich)) == {"id": str(txn_id), "amount": "12.30", "at": settled.isoformat(),
                                           "3": "int key"}
