"""No planner statistics for the transaction's JSON columns.

Nothing filters or sorts on `payload` or `result`, yet ANALYZE builds statistics for both:
sorting its 30,000-row sample of jsonb values is 4/5 of the table's ANALYZE (~300 ms of one
core at 30,000 rows, ~56 ms without them; the sample, and so the cost, stays the same at any
table size). Autovacuum runs that ANALYZE every time a tenth of the table has changed, and on a
2-core host its burst made the largest cluster of P4's slowest settlements
(docs/PERFORMANCE.md#no-planner-statistics-for-the-transactions-json-columns). STATISTICS 0
skips the column; the planner's defaults are what it used for them anyway."""
from django.db import migrations

COLUMNS = ("payload", "result")


class Migration(migrations.Migration):
    dependencies = [("activation", "0002_transaction_hot_path_indexes")]

    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE activation_transaction "
                + ", ".join(f"ALTER COLUMN {column} SET STATISTICS 0" for column in COLUMNS),
            reverse_sql="ALTER TABLE activation_transaction "
                        + ", ".join(f"ALTER COLUMN {column} SET STATISTICS -1" for column in COLUMNS),
        ),
    ]
