"""A partner's reference becomes the engine's retained idempotency key (scope partner:<id>,
key = reference), the one store of its fingerprint: every PartnerActivation gets its key
marked retained, or re-created from the activation's own fingerprint where the 48 h prune
already deleted it. Backwards: the fingerprints are copied back from the keys."""
from django.db import migrations


def references_retain(apps, schema_editor):
    activations = apps.get_model("partners", "PartnerActivation")._meta.db_table
    keys = apps.get_model("activation", "IdempotencyKey")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {keys} (scope, key, request_fingerprint, transaction_id, created_at, retained) "
            f"SELECT 'partner:' || partner_id, reference, request_fingerprint, transaction_id, created_at, true "
            f"FROM {activations} "
            f"ON CONFLICT (scope, key) DO UPDATE SET retained = true")


def fingerprints_copy_back(apps, schema_editor):
    activations = apps.get_model("partners", "PartnerActivation")._meta.db_table
    keys = apps.get_model("activation", "IdempotencyKey")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {activations} a SET request_fingerprint = k.request_fingerprint FROM {keys} k "
            f"WHERE k.scope = 'partner:' || a.partner_id AND k.key = a.reference")


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_partner_customer_link"),
        ("activation", "0004_idempotencykey_retained"),
    ]

    operations = [migrations.RunPython(references_retain, fingerprints_copy_back)]
