"""The prepared-statement cursor of the hot paths (kernel/prepared_sql.py) prepares on the
server and otherwise behaves as Django's own cursor: django.db errors, logged queries."""
import uuid

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from django.core.exceptions import FieldDoesNotExist

from activation.models import Transaction
from kernel.prepared_sql import (column, columns, instance_loaded, model_columns, prepared_cursor, prepared_instances,
                                 table)

pytestmark = pytest.mark.django_db

# A lock as the settlement path takes one (any prepared statement would do).
_SETTLEABLE_LOCK_SQL = f"""
SELECT {column(Transaction, "id")} FROM {table(Transaction)}
 WHERE {column(Transaction, "id")} = ANY(%s) AND {column(Transaction, "status")} IN ('PENDING', 'PROCESSING')
 ORDER BY {column(Transaction, "id")}
   FOR NO KEY UPDATE
"""


def _prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_a_statement_is_prepared_once_on_its_connection_and_answers_as_before():
    # given: an id no transaction has
    missing = uuid.uuid4()

    # when: the settleable lock runs twice through the prepared cursor
    answers = []
    for _ in range(2):
        with prepared_cursor() as cursor:
            cursor.execute(_SETTLEABLE_LOCK_SQL, [[missing]])
            answers.append(cursor.fetchall())

    # then: PostgreSQL holds it prepared, once, and it answered like a plain cursor would
    prepared = [statement for statement in _prepared_statements() if "FOR NO KEY UPDATE" in statement]
    assert len(prepared) == 1 and "$1" in prepared[0]
    assert answers == [[], []]


def test_database_errors_arrive_as_django_errors():
    # a constraint violation is Django's IntegrityError (what callers catch), not psycopg's
    with pytest.raises(IntegrityError):
        with prepared_cursor() as cursor:
            cursor.execute("INSERT INTO accounts_user (username) VALUES (%s)", [None])


def test_captured_queries_show_the_statement_also_when_only_its_name_was_sent():
    # given: the statement is already prepared on this connection
    with prepared_cursor() as cursor:
        cursor.execute(_SETTLEABLE_LOCK_SQL, [[uuid.uuid4()]])

    # when: it runs again while Django logs queries
    with CaptureQueriesContext(connection) as queries:
        with prepared_cursor() as cursor:
            cursor.execute(_SETTLEABLE_LOCK_SQL, [[uuid.uuid4()]])

    # then: the log has its text, not None
    assert len(queries) == 1
    assert "FOR NO KEY UPDATE" in queries[0]["sql"]


def test_prepared_instances_load_as_the_orm_loads_them():
    # given: a campaign (JSON rules, decimals, timestamps, a foreign key) and an offer
    from offers.campaigns.models import Campaign
    from offers.models import Offer
    from offers.selectors import offers_for_settlement
    from tests.campaigns.factories import CampaignFactory
    from tests.factories import OfferFactory

    campaign = CampaignFactory()
    offer = OfferFactory()
    sql = f"SELECT {model_columns(Campaign)} FROM offers_campaign WHERE id = ANY(%s) ORDER BY id FOR UPDATE"

    # when: loaded through a prepared statement, as rows_lock and the settlement's offer read do
    (loaded,) = prepared_instances(Campaign, sql, [[campaign.id]])
    read = offers_for_settlement([offer.id])[offer.id]

    # then: field for field what the ORM loads, and instances that know they are saved
    for instance, orm in ((loaded, Campaign.objects.get(pk=campaign.id)), (read, Offer.objects.get(pk=offer.id))):
        for field in type(orm)._meta.concrete_fields:
            assert getattr(instance, field.attname) == getattr(orm, field.attname), field.name
            assert type(getattr(instance, field.attname)) is type(getattr(orm, field.attname)), field.name
        assert instance._state.adding is False and instance._state.db == "default"
    assert offers_for_settlement([offer.id + 1000]) == {}


def test_names_come_from_the_model_and_an_unknown_field_is_refused():
    from accounts.models import LedgerEntry

    assert table(LedgerEntry) == LedgerEntry._meta.db_table
    assert columns(LedgerEntry, "account", "amount") == "account_id, amount"
    with pytest.raises(FieldDoesNotExist):
        column(LedgerEntry, "acount")


def test_an_instance_loaded_from_returned_values_is_saved_and_defers_what_was_not_given():
    # given: an offer in the database
    from offers.models import Offer
    from tests.factories import OfferFactory

    offer = OfferFactory()

    # when: built from some of its values, as a statement returned them
    loaded = instance_loaded(Offer, id=offer.id, price=offer.price, currency=offer.currency)

    # then: as the ORM loads a row (saved, default database), the rest read on use
    assert loaded._state.adding is False and loaded._state.db == "default"
    assert loaded.get_deferred_fields() == {f.attname for f in Offer._meta.concrete_fields} - {"id", "price", "currency"}
    assert loaded.name == offer.name
    with pytest.raises(TypeError):
        instance_loaded(Offer, id=offer.id, nonsense=1)
