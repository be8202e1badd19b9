"""offers/campaigns/sql.py writes the redemption rows the ORM would."""
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from offers.campaigns.models import CampaignRedemption
from offers.campaigns.sql import campaign_redemptions_insert_returning
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.factories import customer

pytestmark = pytest.mark.django_db


def _fields(instance, *, leave_out=()) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields
            if field.attname not in leave_out}


def test_the_batch_insert_writes_the_rows_the_orm_would_and_returns_their_ids():
    # given: two campaigns, a customer and a transaction for each of two redemptions
    first, second = CampaignFactory(), CampaignFactory()
    user, twin = customer(), customer()  # one redemption of a campaign per order: the twin is another's
    txn, twin_txn = pending_redemption(user, first), pending_redemption(twin, first)
    other_txn = pending_redemption(user, second)
    now = timezone.now()
    values = {"amount": Decimal("10.00"), "base_value": Decimal("100.00"), "cart_value": Decimal("100.00"),
              "delivery_charge": Decimal("4.50"), "currency": "EUR", "order_reference": "#o-1",
              "local_day": date(2025, 3, 1)}
    as_json = {key: str(value) if isinstance(value, Decimal) else value for key, value in values.items()}
    as_json["local_day"] = values["local_day"].isoformat()

    # when: two rows by the statement, a twin of the first by the ORM
    ids = campaign_redemptions_insert_returning(
        [{"campaign_id": first.id, "user_id": user.id, "transaction_id": txn.id, **as_json},
         {"campaign_id": second.id, "user_id": user.id, "transaction_id": other_txn.id, **as_json}], now=now)
    orm = CampaignRedemption.objects.create(campaign=first, user=twin, transaction=twin_txn, **values)

    # then: the ids by (transaction, campaign), and the same row as the ORM's but for whose it is
    assert ids.keys() == {(txn.id, first.id), (other_txn.id, second.id)}
    stored = CampaignRedemption.objects.get(pk=ids[(txn.id, first.id)])
    leave_out = ("id", "user_id", "transaction_id", "created_at")
    assert _fields(stored, leave_out=leave_out) == _fields(orm, leave_out=leave_out)
    assert (stored.user_id, stored.transaction_id, stored.created_at, stored.reversed_at) == (user.id, txn.id, now,
                                                                                              None)
    assert CampaignRedemption.objects.get(pk=ids[(other_txn.id, second.id)]).campaign_id == second.id
