"""The admin as an operator meets it: the site's name, links to the API docs and the
dashboards, a "View site" that leads somewhere, read-only records as view pages, plural
names spelled right, times to the second."""
import pytest
from django.urls import reverse

from accounts.models import LedgerEntry, User
from activation.models import Transaction
from kernel.admin import admin_time
from tests.factories import customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator", "operator@example.com", "pw-123456")
    client.force_login(user)
    return user


def test_the_index_names_the_site_and_links_the_docs_and_dashboards(client, operator, settings):
    # given
    settings.GRAFANA_URL = "https://grafana.example.com/"

    # when
    page = client.get(reverse("admin:index")).content.decode()

    # then
    assert "<title>Operations | Offers &amp; Activation admin</title>" in page
    assert "Offers &amp; Activation — operations" in page
    assert "Django administration" not in page and "Django site admin" not in page
    assert 'href="/swagger/"' in page and 'href="/redoc/"' in page
    assert 'href="https://grafana.example.com/d/queue-health"' in page
    assert 'href="https://grafana.example.com/d/business-flow"' in page


def test_the_dashboards_default_to_the_local_grafana(client, operator):
    # given: the shipped setting (GRAFANA_URL unset in the environment)

    # when
    page = client.get(reverse("admin:index")).content.decode()

    # then
    assert 'href="http://127.0.0.1:3000/d/queue-health"' in page


def test_view_site_opens_the_api_docs_which_answer(client, operator):
    # when
    page = client.get(reverse("admin:index")).content.decode()
    docs = client.get("/swagger/")

    # then
    assert '<a href="/swagger/">View site</a>' in page
    assert docs.status_code == 200


@pytest.mark.parametrize("record", ["ledger_entry", "transaction"])
def test_a_read_only_record_is_a_view_page_without_save_buttons(client, operator, record):
    # given
    user = customer(balance="25.00")
    if record == "ledger_entry":
        obj, url_name, title = LedgerEntry.objects.get(account__user=user), "admin:accounts_ledgerentry_change", \
            "View ledger entry"
    else:
        obj, url_name, title = Transaction.objects.create(kind="offer_activation", user=user, payload={}), \
            "admin:activation_transaction_change", "View transaction"

    # when
    response = client.get(reverse(url_name, args=[obj.pk]))

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert f" | {title} | Offers &amp; Activation admin</title>" in page and f"<h1>{title}</h1>" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page and "Save and add another" not in page
    assert "Close" in page


def test_ledger_entries_are_spelled_right_and_times_have_seconds(client, operator):
    # given
    entry = LedgerEntry.objects.get(account__user=customer(balance="25.00"))

    # when
    index = client.get(reverse("admin:index")).content.decode()
    changelist = client.get(reverse("admin:accounts_ledgerentry_changelist")).content.decode()

    # then
    assert "Ledger entries" in index and "Ledger entrys" not in index
    assert "Select ledger entry to view" in changelist
    assert admin_time(entry.created_at) in changelist  # e.g. 2026-11-30 03:41:07 UTC


def test_a_time_column_still_sorts(client, operator):
    # given
    customer(balance="1.00"), customer(balance="2.00")

    # when: sort by the created_at column (index 7 of the ledger list)
    response = client.get(reverse("admin:accounts_ledgerentry_changelist") + "?o=-7")

    # then
    assert response.status_code == 200
    assert 'class="sortable column-created_at sorted descending"' in response.content.decode()
