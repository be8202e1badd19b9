"""The settlement outbox (activation.models.FinishedOutbox): outcomes whose side effects are
still owed, recorded in PostgreSQL with the outcome itself."""
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("activation", "0004_idempotencykey_retained")]

    operations = [
        migrations.CreateModel(
            name="FinishedOutbox",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("transaction_id", models.UUIDField()),
                ("status", models.CharField(help_text="The status the transaction reached (the event).",
                                            max_length=12)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"db_table": "activation_finished_outbox"},
        ),
    ]
