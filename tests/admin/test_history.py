"""The audit history of the configuration: every change to campaigns, promos, pools,
partners, brands and users, through the API (JWT) or the admin, names who made it; the
settlement path and logins write no history row."""
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from accounts.models import User
from activation.services import transactions_settle
from kernel.history import history_user_of
from offers.campaigns.models import Campaign
from offers.codes.models import Brand
from offers.codes.services import KIND_CODE_CLAIM, code_pool_create
from offers.services import offer_activation_request
from partners.models import Partner
from tests.campaigns.factories import CampaignFactory, pending_redemption
from tests.codes.factories import BrandFactory
from tests.factories import PASSWORD, OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db


def history_rows() -> int:
    return sum(model.objects.count() for model in apps.get_models() if model.__name__.startswith("Historical"))


def test_a_campaign_patched_through_the_api_with_a_jwt_records_the_user(api_client):
    # given
    staff = customer(is_staff=True)
    campaign = CampaignFactory(value=Decimal("10.00"))

    # when
    response = api_client.patch(f"/api/v1/campaigns/{campaign.id}/", {"value": "20"}, format="json",
                                HTTP_AUTHORIZATION=bearer(staff))

    # then
    assert response.status_code == 200, response.json()
    change = Campaign.history.filter(id=campaign.id).latest()
    assert change.history_type == "~" and change.value == Decimal("20.00")
    assert change.history_user == staff
    assert [d.field for d in change.diff_against(change.prev_record).changes] == ["value"]


def test_a_change_in_the_admin_records_the_operator_and_shows_in_the_history_page(client):
    # given
    operator = User.objects.create_superuser("auditor", "auditor@example.com", "pw-123456")
    client.force_login(operator)
    brand = BrandFactory(name="Old name")
    campaign = CampaignFactory()

    # when
    saved = client.post(reverse("admin:offers_brand_change", args=[brand.pk]), {"name": "New name"})
    client.post(reverse("admin:offers_campaign_changelist"),
                {"action": "pause_selected", "_selected_action": [campaign.pk]})
    page = client.get(reverse("admin:offers_brand_history", args=[brand.pk])).content.decode()

    # then
    assert saved.status_code == 302
    renamed = Brand.history.filter(id=brand.pk).latest()
    assert renamed.name == "New name" and renamed.history_user == operator
    paused = Campaign.history.filter(id=campaign.pk).latest()
    assert paused.status == Campaign.Status.PAUSED and paused.history_user == operator
    assert "New name" in page and "auditor" in page


def test_the_history_is_read_only(client):
    # given
    operator = User.objects.create_superuser("auditor2", "auditor2@example.com", "pw-123456")
    client.force_login(operator)
    brand = BrandFactory(name="Before")
    client.post(reverse("admin:offers_brand_change", args=[brand.pk]), {"name": "After"})
    first = Brand.history.filter(id=brand.pk).earliest()
    url = reverse("admin:offers_brand_simple_history", args=[brand.pk, first.history_id])

    # when
    shown = client.get(url)
    reverted = client.post(url, {"name": "Before"})

    # then
    assert shown.status_code == 200 and "Revert" not in shown.content.decode()
    assert reverted.status_code == 403
    assert Brand.objects.get(pk=brand.pk).name == "After"


def test_settlement_and_logins_write_no_history_row(client):
    # given: an offer activation, a campaign redemption and a code claim, pending
    buyer = customer(balance="100.00")
    campaign = CampaignFactory()
    pool = code_pool_create(brand=BrandFactory(), name="Pool", total_count=5)
    pending = [
        offer_activation_request(user_id=buyer.id, offer=OfferFactory(), idempotency_key=None).transaction.id,
        pending_redemption(buyer, campaign).id,
        buyer.transactions.create(kind=KIND_CODE_CLAIM, payload={"pool_id": pool.id}).id,
    ]
    before = history_rows()

    # when
    for transaction_id in pending:
        transactions_settle(transaction_id=transaction_id)
    logged_in = client.login(username=buyer.username, password=PASSWORD)

    # then: the counters moved, the history did not
    campaign.refresh_from_db(), pool.refresh_from_db()
    assert campaign.uses_count == 1 and pool.claimed_count == 1 and logged_in
    assert buyer.account.balance < Decimal("100.00")
    assert history_rows() == before


def test_a_partner_is_never_recorded_as_the_history_user():
    # given: a partner-signed request authenticates a Partner as request.user
    request = type("Request", (), {"user": Partner(name="p")})()

    # then
    assert history_user_of(request=request) is None
