"""The admin is a client of services, never a back door into the money: money, counters and
audit rows are read-only; operator writes go through the services and are logged; the
login form is throttled like the API's."""
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, LedgerEntry, User
from activation.models import IdempotencyKey, Transaction
from activation.services import transactions_settle
from notifications.models import Notification
from offers.campaigns.models import Campaign, CampaignRedemption
from offers.codes.models import CodePool, DiscountCode
from offers.codes.services import code_pool_create
from offers.flash.models import FlashPromo, FlashPromoNotice, FlashReservation
from offers.models import Subscription
from offers.services import KIND_OFFER_ACTIVATION
from tests.campaigns.factories import CampaignFactory
from tests.codes.factories import BrandFactory
from tests.factories import PASSWORD, OfferFactory, SegmentFactory, bearer, customer
from tests.flash.factories import running_promo
from tests.helpers import assert_ledger_matches_balance
from tests.notifications.factories import EmailNotificationFactory

READ_ONLY_MODELS = [Account, LedgerEntry, Transaction, IdempotencyKey, CampaignRedemption, DiscountCode,
                    FlashReservation, FlashPromoNotice, Subscription, Notification]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def root(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return user


def _settled_activation(user, offer=None) -> Transaction:
    offer = offer or OfferFactory(price=Decimal("10.00"))
    txn = Transaction.objects.create(kind=KIND_OFFER_ACTIVATION, user=user, payload={"offer_id": offer.id},
                                     amount=offer.price, currency=offer.currency)
    transactions_settle(transaction_id=txn.id, batch_size=1)
    txn.refresh_from_db()
    return txn


def _one_row_of_each_read_only_model() -> dict:
    """A real row of every read-only model, made the way the product makes them where that is cheap."""
    user = customer(balance="50.00")
    txn = _settled_activation(user)  # + its ledger row and subscription
    IdempotencyKey.objects.create(scope=f"user:{user.id}", key="k-1", request_fingerprint="f", transaction=txn)
    campaign = CampaignFactory()
    CampaignRedemption.objects.create(campaign=campaign, user=user, transaction=txn, amount=Decimal("1.00"),
                                      base_value=Decimal("10.00"), order_reference="order-1",
                                      local_day=timezone.now().date())
    code_pool_create(brand=BrandFactory(), name="pool", total_count=2)
    promo = running_promo(segments=[SegmentFactory()])
    FlashReservation.objects.create(promo=promo, user=user, status=FlashReservation.Status.HELD,
                                    expires_at=timezone.now() + timedelta(minutes=1), transaction_id=uuid.uuid4())
    FlashPromoNotice.objects.create(promo=promo, user=user)
    EmailNotificationFactory(user=user)
    rows = {model: model.objects.order_by("pk").first() for model in READ_ONLY_MODELS}
    assert all(rows.values()), rows
    return rows


# --- read-only models ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_no_read_only_model_can_be_added_changed_or_deleted_from_the_admin(client, root):
    # given
    rows = _one_row_of_each_read_only_model()
    counts = {model: model.objects.count() for model in READ_ONLY_MODELS}

    for model, obj in rows.items():
        # when / then: add refused, the change page is a view page, change and delete refused
        assert client.get(_url(model, "add")).status_code == 403, model
        assert client.post(_url(model, "add"), {}).status_code == 403, model
        view = client.get(_url(model, "change", obj.pk))
        assert view.status_code == 200, model
        assert 'name="_save"' not in view.content.decode(), model
        assert client.post(_url(model, "change", obj.pk), {}).status_code == 403, model
        assert client.get(_url(model, "delete", obj.pk)).status_code == 403, model
        assert client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403, model
        changelist = client.get(_url(model, "changelist"))
        assert changelist.status_code == 200, model
        assert 'value="delete_selected"' not in changelist.content.decode(), model
        client.post(_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [obj.pk],
                                                "post": "yes"})

    # then: nothing was written
    assert {model: model.objects.count() for model in READ_ONLY_MODELS} == counts
    assert not LogEntry.objects.exists()


# --- balance adjustments ------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_adjustment_writes_one_ledger_row_naming_the_operator_and_the_reason(client, root):
    # given
    user = customer(balance="10.00")
    account = Account.objects.get(user=user)
    assert "Adjust balance" in client.get(_url(Account, "change", account.pk)).content.decode()

    # when
    response = client.post(_url(Account, "adjust", account.pk), {"amount": "-4.50", "reason": "goodwill reversal"})

    # then
    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(account=account).first()
    assert (entry.amount, entry.reason) == (Decimal("-4.50"), LedgerEntry.Reason.ADJUSTMENT)
    assert "root" in entry.description and "goodwill reversal" in entry.description
    assert LedgerEntry.objects.filter(account=account).count() == 2
    assert assert_ledger_matches_balance(user) == Decimal("5.50")
    log = LogEntry.objects.get(object_id=str(account.pk))
    assert log.user == root and "goodwill reversal" in log.get_change_message()


@pytest.mark.django_db
def test_an_adjustment_below_zero_is_refused_and_changes_nothing(client, root):
    # given
    user = customer(balance="3.00")
    account = Account.objects.get(user=user)

    # when
    response = client.post(_url(Account, "adjust", account.pk), {"amount": "-5.00", "reason": "oops"})

    # then
    assert response.status_code == 200
    assert "below 0" in response.content.decode()
    assert LedgerEntry.objects.filter(account=account).count() == 1
    assert assert_ledger_matches_balance(user) == Decimal("3.00")
    assert not LogEntry.objects.exists()


@pytest.mark.django_db
def test_an_adjustment_needs_a_reason_and_a_staff_member_with_the_permission(client, root):
    # given
    account = Account.objects.get(user=customer(balance="3.00"))

    # when
    no_reason = client.post(_url(Account, "adjust", account.pk), {"amount": "1.00", "reason": ""})
    staff = User.objects.create_user("clerk", "clerk@example.com", "pw-123456", is_staff=True)
    client.force_login(staff)
    not_permitted = client.post(_url(Account, "adjust", account.pk), {"amount": "1.00", "reason": "x"})

    # then
    assert no_reason.status_code == 200 and not_permitted.status_code == 403
    assert LedgerEntry.objects.filter(account=account).count() == 1


# --- transactions --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_reverse_action_reverses_each_selected_and_shows_the_refusals(client, root):
    # given: two succeeded activations and one that failed
    user = customer(balance="20.00")
    succeeded = [_settled_activation(user), _settled_activation(user)]
    failed = _settled_activation(user, OfferFactory(is_active=False))
    assert [t.status for t in succeeded] + [failed.status] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]

    # when
    response = client.post(_url(Transaction, "changelist"),
                           {"action": "reverse_selected", "_selected_action": [t.pk for t in [*succeeded, failed]]},
                           follow=True)

    # then: the two are reversed (money back), the failed one's refusal is shown
    statuses = dict(Transaction.objects.filter(pk__in=[t.pk for t in [*succeeded, failed]])
                    .values_list("pk", "status"))
    assert [statuses[t.pk] for t in succeeded] == ["REVERSED", "REVERSED"]
    assert statuses[failed.pk] == "FAILED"
    assert assert_ledger_matches_balance(user) == Decimal("20.00")
    text = response.content.decode()
    assert "Only a succeeded transaction can be reversed." in text
    assert LogEntry.objects.filter(object_id__in=[str(t.pk) for t in succeeded]).count() == 2


# --- campaigns ------------------------------------------------------------------------------------

def _campaign_form(campaign: Campaign, **changes) -> dict:
    data = {"name": campaign.name, "description": campaign.description, "target": campaign.target,
            "kind": campaign.kind, "value": str(campaign.value), "max_discount_amount": "",
            "min_cart_value": str(campaign.min_cart_value), "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(), "timezone": campaign.timezone, "currency": campaign.currency,
            "total_budget": str(campaign.total_budget), "max_uses_per_customer_per_day": "",
            "max_total_uses": "", "priority": str(campaign.priority), "status": campaign.status,
            "target_customers": "", "target_segments": []}
    data.update(changes)
    return data


@pytest.mark.django_db(transaction=True)
def test_a_campaign_form_saved_while_a_settlement_commits_loses_none_of_its_counters(client, root, monkeypatch):
    # given: the change form loaded; a settlement commits after the admin has read the row
    # for the save (between its read and its write) and before the admin writes
    campaign = CampaignFactory(spent_amount=Decimal("10.00"), uses_count=1)
    assert client.get(_url(Campaign, "change", campaign.pk)).status_code == 200
    admin_class = type(admin.site._registry[Campaign])
    original_save_form = admin_class.save_form

    def settlement_commits_meanwhile(self, request, form, change):
        def settle():
            from django.db.models import F
            Campaign.objects.filter(pk=campaign.pk).update(spent_amount=F("spent_amount") + Decimal("5.00"),
                                                           uses_count=F("uses_count") + 1)
            connection.close()
        worker = threading.Thread(target=settle)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the settlement blocked: the admin held the campaign row too early"
        return original_save_form(self, request, form, change)

    monkeypatch.setattr(admin_class, "save_form", settlement_commits_meanwhile)

    # when: the operator renames it
    response = client.post(_url(Campaign, "change", campaign.pk), _campaign_form(campaign, name="Renamed"))

    # then: the rename is saved and the settlement's counters are kept
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign.refresh_from_db()
    assert (campaign.name, campaign.spent_amount, campaign.uses_count) == ("Renamed", Decimal("15.00"), 2)


def _available_ids(api_client, user) -> list[int]:
    response = api_client.post("/api/v1/discounts/available/", {"cart_value": "100.00"},
                               HTTP_AUTHORIZATION=bearer(user), format="json")
    assert response.status_code == 200, response.content
    return [c["campaign_id"] for c in response.json()["campaigns"]]


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["action", "form"])
def test_pausing_a_campaign_in_the_admin_removes_it_from_available_at_once(how, client, root, api_client,
                                                                          django_capture_on_commit_callbacks):
    # given: the campaign is listed (and the list is cached)
    shopper = customer()
    campaign = CampaignFactory()
    assert _available_ids(api_client, shopper) == [campaign.id]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        if how == "action":
            response = client.post(_url(Campaign, "changelist"),
                                   {"action": "pause_selected", "_selected_action": [campaign.pk]})
        else:
            response = client.post(_url(Campaign, "change", campaign.pk), _campaign_form(campaign, status="paused"))
    assert response.status_code == 302

    # then
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"
    assert _available_ids(api_client, shopper) == []
    assert LogEntry.objects.filter(object_id=str(campaign.pk)).count() == 1


@pytest.mark.django_db
def test_a_campaign_added_in_the_admin_goes_through_the_service_with_its_targets(client, root,
                                                                                django_capture_on_commit_callbacks):
    # given
    target = customer()
    segment = SegmentFactory()
    template = CampaignFactory.build()

    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(_url(Campaign, "add"), _campaign_form(
            template, name="From the admin", is_targeted="on", target_customers=str(target.pk),
            target_segments=[segment.pk]))

    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="From the admin")
    assert list(campaign.target_customers.all()) == [target]
    assert list(campaign.target_segments.all()) == [segment]
    assert callbacks, "the service's cache invalidation was not scheduled"
    assert LogEntry.objects.filter(object_id=str(campaign.pk)).count() == 1


@pytest.mark.django_db
def test_a_campaign_with_redemptions_is_not_deleted_one_without_is(client, root):
    # given
    user = customer(balance="20.00")
    used, unused = CampaignFactory(), CampaignFactory()
    CampaignRedemption.objects.create(campaign=used, user=user, transaction=_settled_activation(user),
                                      amount=Decimal("1.00"), base_value=Decimal("10.00"), order_reference="o-1",
                                      local_day=timezone.now().date())

    # when
    single = client.post(_url(Campaign, "delete", used.pk), {"post": "yes"}, follow=True)
    bulk = client.post(_url(Campaign, "changelist"), {"action": "delete_selected", "post": "yes",
                                                      "_selected_action": [used.pk, unused.pk]}, follow=True)

    # then
    assert "cannot be deleted" in single.content.decode() or "Cannot delete" in single.content.decode()
    assert "Deleted 1 campaigns." in bulk.content.decode()
    assert "cannot be deleted" in bulk.content.decode()
    assert list(Campaign.objects.values_list("pk", flat=True)) == [used.pk]
    deletions = LogEntry.objects.filter(action_flag=3)
    assert [e.object_id for e in deletions] == [str(unused.pk)]


# --- code pools and flash promos -----------------------------------------------------------------

@pytest.mark.django_db
def test_a_code_pool_edit_writes_only_the_changed_fields(client, root):
    # given: a pool whose claimed count moved after the form was loaded
    pool = code_pool_create(brand=BrandFactory(), name="Spring", total_count=5)
    assert client.get(_url(CodePool, "change", pool.pk)).status_code == 200
    CodePool.objects.filter(pk=pool.pk).update(claimed_count=3)

    # when
    response = client.post(_url(CodePool, "change", pool.pk), {
        "brand": pool.brand_id, "name": "Spring sale", "description": "", "valid_from_0": "", "valid_from_1": "",
        "valid_until_0": "", "valid_until_1": ""})

    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    pool.refresh_from_db()
    assert (pool.name, pool.total_count, pool.claimed_count) == ("Spring sale", 5, 3)
    assert client.get(_url(CodePool, "add")).status_code == 403
    assert client.post(_url(CodePool, "delete", pool.pk), {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_a_flash_promo_is_cancelled_by_the_action_and_not_deleted_while_it_has_reservations(client, root):
    # given
    promo = running_promo(segments=[SegmentFactory()])
    FlashReservation.objects.create(promo=promo, user=customer(), status=FlashReservation.Status.HELD,
                                    expires_at=timezone.now() + timedelta(minutes=1), transaction_id=uuid.uuid4())

    # when
    cancel = client.post(_url(FlashPromo, "changelist"), {"action": "cancel_selected",
                                                          "_selected_action": [promo.pk]})
    delete = client.post(_url(FlashPromo, "delete", promo.pk), {"post": "yes"}, follow=True)

    # then
    assert cancel.status_code == 302
    assert FlashPromo.objects.get(pk=promo.pk).status == FlashPromo.Status.CANCELLED
    assert FlashPromo.objects.filter(pk=promo.pk).exists()
    text = delete.content.decode()
    assert "has reservations" in text or "Cannot delete" in text


# --- login ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_admin_login_is_throttled_even_for_the_right_password(client):
    # given
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    login = reverse("admin:login")
    assert client.get(login).status_code == 200

    # when: 30 wrong passwords, then the right one
    wrong = [client.post(login, {"username": "boss", "password": f"wrong-{i}"}).status_code for i in range(30)]
    right = client.post(login, {"username": "boss", "password": PASSWORD})

    # then
    assert wrong[:10] == [200] * 10 and set(wrong[10:]) == {429}
    assert right.status_code == 429
    assert int(right["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_login_counts_per_username_across_client_addresses(client):
    # given
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    login = reverse("admin:login")

    # when: each guess from another address
    codes = [client.post(login, {"username": "boss", "password": "nope"}, REMOTE_ADDR=f"10.0.0.{i}").status_code
             for i in range(1, 12)]
    other_user = client.post(login, {"username": "someone-else", "password": "nope"}, REMOTE_ADDR="10.0.1.1")

    # then
    assert codes == [200] * 10 + [429]
    assert other_user.status_code == 200


@pytest.mark.django_db
def test_a_service_refusal_on_save_rolls_the_form_back_and_is_shown(client, root, monkeypatch):
    # given: the service refuses (as campaign_update does for a budget below what was spent meanwhile)
    from kernel.errors import ConflictError
    from offers import admin as offers_admin

    def refuse(**kwargs):
        raise ConflictError("The budget cannot go below what has been spent.", code="budget_below_spent")

    monkeypatch.setattr(offers_admin, "campaign_update", refuse)
    campaign = CampaignFactory()

    # when
    response = client.post(_url(Campaign, "change", campaign.pk), _campaign_form(campaign, name="Renamed"),
                           follow=True)

    # then: the operator sees why, nothing was written or logged
    assert "The budget cannot go below what has been spent." in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).name == campaign.name
    assert not LogEntry.objects.exists()
