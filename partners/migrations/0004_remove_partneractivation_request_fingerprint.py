"""The fingerprint lives in the engine's retained idempotency key (0003). The default is there
only so that going backwards can add the column to a table that has rows (0003 then fills it)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("partners", "0003_partner_references_as_retained_idempotency_keys")]

    operations = [
        migrations.AlterField(model_name="partneractivation", name="request_fingerprint",
                              field=models.CharField(default="", max_length=64)),
        migrations.RemoveField(model_name="partneractivation", name="request_fingerprint"),
    ]
