"""A caller may keep its idempotency keys for ever (`transaction_accept(idempotency_retained=True)`):
the prune skips them. Existing keys stay prunable (False)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("activation", "0003_transaction_json_columns_without_statistics")]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="retained",
            field=models.BooleanField(default=False, help_text="Never pruned: the key stays unique for ever."),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="scope",
            field=models.CharField(help_text="user:<id>, or the scope the caller names", max_length=64),
        ),
    ]
