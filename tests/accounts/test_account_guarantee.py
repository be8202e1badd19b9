"""Every user has an Account and a CustomerProfile, however it was created."""
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.models import Account, CustomerProfile, User
from tests.factories import SegmentFactory, bearer, customer

pytestmark = pytest.mark.django_db


def _created_by_create_user(client) -> User:
    return User.objects.create_user(username="plain", password="pw-123456")


def _created_by_create_superuser(client) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw-123456")


def _created_by_createsuperuser_command(client) -> User:
    call_command("createsuperuser", interactive=False, username="cmdroot", email="cmdroot@example.com",
                 verbosity=0)
    return User.objects.get(username="cmdroot")


def _created_by_admin_add_user_form(client) -> User:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456"))
    response = client.post(reverse("admin:accounts_user_add"),
                           {"username": "fromadmin", "usable_password": "true",
                            "password1": "a-long-pass-123", "password2": "a-long-pass-123"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return User.objects.get(username="fromadmin")


def _created_by_objects_create(client) -> User:
    return User.objects.create(username="raw", email="raw@example.com")


@pytest.mark.parametrize("create", [_created_by_create_user, _created_by_create_superuser,
                                    _created_by_createsuperuser_command, _created_by_admin_add_user_form,
                                    _created_by_objects_create])
def test_a_user_created_by_any_path_has_an_account_a_profile_and_a_balance(create, client, api_client, settings):
    # given / when
    user = create(client)

    # then
    account = Account.objects.get(user=user)
    assert (account.currency, account.balance) == (settings.DEFAULT_CURRENCY, Decimal("0.00"))
    assert CustomerProfile.objects.filter(user=user).exists()
    response = api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=bearer(user))
    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "0.00"


def test_customer_create_keeps_the_currency_and_profile_it_was_asked_for():
    # given
    segment = SegmentFactory(slug="gold")

    # when
    user = customer(currency="USD", phone="+3312345678", segment=segment, latitude=Decimal("48.85"),
                    longitude=Decimal("2.35"), timezone="Europe/Paris")

    # then: one account and one profile, with the requested values
    assert list(Account.objects.filter(user=user).values_list("currency", flat=True)) == ["USD"]
    profile = CustomerProfile.objects.get(user=user)
    assert (profile.phone, profile.segment, profile.latitude, profile.timezone) == (
        "+3312345678", segment, Decimal("48.850000"), "Europe/Paris")


def test_the_balance_never_500s_for_a_user_whose_account_row_is_missing(api_client):
    # given: a user whose rows were removed by hand
    user = User.objects.create_user(username="orphan", password="pw-123456")
    Account.objects.filter(user=user).delete()
    CustomerProfile.objects.filter(user=user).delete()

    # when
    balance = api_client.get("/api/v1/account/balance/", HTTP_AUTHORIZATION=bearer(user))
    profile = api_client.get("/api/v1/auth/profile/", HTTP_AUTHORIZATION=bearer(user))

    # then
    assert (balance.status_code, profile.status_code) == (200, 200)
    assert Account.objects.filter(user=user).count() == 1


def test_the_data_migration_creates_the_missing_rows_and_keeps_the_others(settings):
    # given: users from before the receiver (rows removed), and a customer with its own rows
    migration = import_module("accounts.migrations.0002_customer_records_for_every_user")
    bare = [User.objects.create_user(username=f"old{i}", email=f"old{i}@example.com") for i in range(3)]
    Account.objects.filter(user__in=bare).delete()
    CustomerProfile.objects.filter(user__in=bare[:2]).delete()
    kept = customer(currency="USD", balance="5.00")

    # when
    schema_editor = type("SchemaEditor", (), {"connection": connection})()
    migration.customer_records_create_missing(django_apps, schema_editor)
    migration.customer_records_create_missing(django_apps, schema_editor)  # re-runnable

    # then
    for user in bare:
        assert Account.objects.get(user=user).currency == settings.DEFAULT_CURRENCY
        assert CustomerProfile.objects.filter(user=user).count() == 1
    assert Account.objects.get(user=kept).balance == Decimal("5.00")
    assert Account.objects.get(user=kept).currency == "USD"
