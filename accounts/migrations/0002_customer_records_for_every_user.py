"""Every existing user gets the Account (in DEFAULT_CURRENCY) and CustomerProfile it lacks:
users made by createsuperuser, the admin or a shell before the post_save receiver existed."""
from django.conf import settings
from django.db import migrations

BATCH = 5000


def customer_records_create_missing(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Account = apps.get_model("accounts", "Account")
    CustomerProfile = apps.get_model("accounts", "CustomerProfile")
    db = schema_editor.connection.alias
    users = User.objects.using(db)
    without_account = list(users.filter(account__isnull=True).values_list("pk", flat=True))
    for start in range(0, len(without_account), BATCH):
        Account.objects.using(db).bulk_create(
            [Account(user_id=pk, currency=settings.DEFAULT_CURRENCY) for pk in without_account[start:start + BATCH]],
            ignore_conflicts=True)
    without_profile = list(users.filter(profile__isnull=True).values_list("pk", flat=True))
    for start in range(0, len(without_profile), BATCH):
        CustomerProfile.objects.using(db).bulk_create(
            [CustomerProfile(user_id=pk) for pk in without_profile[start:start + BATCH]], ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(customer_records_create_missing, migrations.RunPython.noop, elidable=True),
    ]
