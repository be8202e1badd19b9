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


def _redemption(campaign, user, reference: str, *, amount="5.00", reversed_at=None) -> CampaignRedemption:
    return CampaignRedemption.objects.create(
        campaign=campaign, user=user, transaction=pending_redemption(user, campaign), amount=Decimal(amount),
        base_value=Decimal("50.00"), cart_value=Decimal("50.00"), delivery_charge=Decimal("3.00"), currency="EUR",
        order_reference=reference, local_day=date(2025, 3, 1), reversed_at=reversed_at)


def test_the_orders_read_returns_the_live_redemptions_of_exactly_those_orders_as_the_orm_reads_them():
    # given: one customer's order on two campaigns, one on a third with a reversed redemption,
    # another customer with an order of the same reference, and orders nobody asked about
    from offers.campaigns.sql import orders_redemptions

    cart, stackable, delivery = CampaignFactory(), CampaignFactory(is_stackable=True), CampaignFactory(target="delivery")
    user, other = customer(), customer()
    _redemption(cart, user, "#a", amount="4.00"), _redemption(stackable, user, "#a", amount="2.50")
    _redemption(delivery, user, "#b", reversed_at=timezone.now()), _redemption(cart, user, "#b")
    _redemption(cart, other, "#a"), _redemption(cart, user, "#c"), _redemption(cart, other, "#z")
    asked = {(user.id, "#a"), (user.id, "#b"), (other.id, "#z"), (other.id, "#nothing")}

    # when
    rows = orders_redemptions(asked)

    # then: what the ORM reads for the same orders, pair by pair, oldest first
    orm = [row for row in CampaignRedemption.objects.filter(reversed_at=None).order_by("id").values_list(
        "user_id", "order_reference", "campaign_id", "campaign__target", "campaign__is_stackable", "amount",
        "cart_value", "delivery_charge", "currency") if (row[0], row[1]) in asked]
    assert rows == orm and len(rows) == 4
    assert orders_redemptions(set()) == []


def test_reading_an_order_reads_only_its_redemptions_however_long_the_customers_history():
    # given: a customer with 3,000 earlier orders (enough that PostgreSQL would rather not
    # read the table whole), and their new one
    from django.db import connection

    from activation.models import Transaction
    from offers.campaigns.services import KIND_DISCOUNT_REDEMPTION
    from offers.campaigns.sql import ORDERS_REDEMPTIONS_SQL
    from tests.helpers import rows_read

    campaign, user = CampaignFactory(), customer()
    txns = Transaction.objects.bulk_create([Transaction(kind=KIND_DISCOUNT_REDEMPTION, user=user, payload={})
                                            for _ in range(3000)])
    CampaignRedemption.objects.bulk_create([CampaignRedemption(
        campaign=campaign, user=user, transaction=txn, amount=Decimal("1.00"), base_value=Decimal("9.00"),
        cart_value=Decimal("9.00"), delivery_charge=Decimal("0"), currency="EUR", order_reference=f"#old-{n}",
        local_day=date(2025, 3, 1)) for n, txn in enumerate(txns)])
    _redemption(campaign, user, "#new")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CampaignRedemption._meta.db_table}")

    # when: their new order is read, as a settlement batch reads its orders
    read = rows_read(ORDERS_REDEMPTIONS_SQL, {"user_ids": [user.id], "references": ["#new"]})

    # then: one redemption row is read, not the history
    assert {mode: by_table.get(CampaignRedemption._meta.db_table) for mode, by_table in read.items()} == {
        "force_custom_plan": 1, "force_generic_plan": 1}
