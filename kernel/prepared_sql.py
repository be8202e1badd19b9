"""Hand-written hot-path statements as server-side prepared statements.

Django's PostgreSQL cursors bind parameters on the client (psycopg's ClientCursor): every
statement reaches PostgreSQL as new text, which it parses and plans again. The settlement
path runs the same handful of statements (the claim, the locks, the ledger write, the
finish) for every message, and planning them costs PostgreSQL about as much as running them
(the claim: 0.47 ms to plan, 0.34 ms to run; prepared, 55 µs of backend CPU instead of 400 µs
when nothing is pending: docs/PERFORMANCE.md#prepared-statements). `prepared_cursor()` gives
a cursor that binds on the server and prepares each statement on its connection's first use
of it (psycopg keeps the statements per connection), wrapped as Django wraps its own
cursors: database errors arrive as django.db errors, queries are logged where Django logs
them, and counted in the django_prometheus metrics.

The statements themselves live in each app's sql.py, named from the models' metadata with
`table`, `column` and `columns`; an instance built from what one returned is loaded with
`instance_loaded` (Model.from_db), never assembled by hand.

Parameters are typed by PostgreSQL, not spliced in as literals, so the SQL must say the type
where it cannot be inferred (`%s::uuid` for a NULL-able id). Name the columns a statement
returns (no `SELECT *`): after a migration changes a table's columns, PostgreSQL refuses to
run a prepared statement whose result shape would change. Not for use through a
transaction-pooling proxy (PgBouncer in transaction mode), which this stack does not run.
"""
from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.postgresql.base import ServerBindingCursor

from kernel.db_backend.base import metered_cursor_class


class _PreparingCursor(ServerBindingCursor):
    log_sql = False  # set when Django logs this cursor's queries (DEBUG, CaptureQueriesContext)

    def execute(self, query, params=None, *, prepare=None, binary=None):
        result = super().execute(query, params, prepare=True, binary=binary)
        if self.log_sql and self._query is None:
            # psycopg records the query it sent, which Django logs, except when it sent only
            # the name of a prepared statement: the statement's text ($1 placeholders) then
            self._query = self._convert_query(query, params)
        return result


def prepared_cursor():
    """Like `connection.cursor()`, for statements worth preparing (see the module docstring)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` looks the connection up again
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = metered_cursor_class(_PreparingCursor, db.alias, db.vendor)(db.connection)
    raw.log_sql = db.queries_logged
    return db._prepare_cursor(raw)


def table(model: type[models.Model]) -> str:
    """`model`'s table, for a hand-written statement (a renamed table changes the statement)."""
    return model._meta.db_table


def column(model: type[models.Model], name: str) -> str:
    """The column of `model`'s field `name`; a field that does not exist fails at import."""
    return model._meta.get_field(name).column


def columns(model: type[models.Model], *names: str) -> str:
    """The columns of `model`'s fields `names`, in that order, as a comma-separated list."""
    return ", ".join(column(model, name) for name in names)


def instance_loaded(model: type[models.Model], /, **values) -> models.Model:
    """An instance of `model` built from what a statement wrote or returned, as the ORM loads
    one (`Model.from_db`: saved, on the default database), keyed by attribute name (`account_id`,
    not `account`). Fields not given are deferred: read from the database if ever used."""
    attnames = [field.attname for field in model._meta.concrete_fields]
    unknown = values.keys() - set(attnames)
    if unknown:
        raise TypeError(f"{model.__name__} has no column attribute(s) {sorted(unknown)}")
    present = [name for name in attnames if name in values]
    return model.from_db(DEFAULT_DB_ALIAS, present, [values[name] for name in present])


@functools.cache
def _model_loading(model: type[models.Model]) -> tuple[str, list[str], dict[int, tuple[list, object]]]:
    """For `model`: its columns as a SELECT list, the attribute names they load into, and the
    converters the ORM applies to them (by position), as a compiler works them out."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    converters = {}
    for position, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters[position] = (found, column)
    return ", ".join(quote(field.column) for field in fields), [field.attname for field in fields], converters


def model_columns(model: type[models.Model]) -> str:
    """Every column of `model`, named, for the SELECT list of a statement `prepared_instances` runs."""
    return _model_loading(model)[0]


def prepared_instances(model: type[models.Model], sql: str, params) -> list[models.Model]:
    """Runs a prepared `SELECT {model_columns(model)} FROM ...` and builds the instances as the
    ORM would (the same converters, `Model.from_db`), without compiling a queryset."""
    _, attnames, converters = _model_loading(model)
    db = connections[DEFAULT_DB_ALIAS]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        if converters:
            row = list(row)
            for position, (functions, column) in converters.items():
                value = row[position]
                for convert in functions:
                    value = convert(value, column, db)
                row[position] = value
        instances.append(model.from_db(db.alias, attnames, row))
    return instances
