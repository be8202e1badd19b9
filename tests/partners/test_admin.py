"""Operator screens: what money moved for is never added, edited or deleted in the admin."""
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.models import User
from activation.services import transactions_settle
from partners.models import CallbackDelivery, Partner, PartnerActivation
from partners.services import partner_callback_schedule
from tests.factories import OfferFactory, customer
from tests.partners.signing import get_signed, partner, post_signed, validate_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root-ro", "root-ro@example.com", "pw-123456"))
    return client


@pytest.fixture
def settled(api_client):
    """A settled partner activation with its callback delivery recorded."""
    bob = customer(balance="50.00", phone="+33620000001")
    credentials = partner(callback_url="http://127.0.0.1:9/hook", customers=[bob])
    accepted = post_signed(api_client, credentials, {"reference": "ADM-1", "customer": "+33620000001",
                                                     "offer_id": OfferFactory().id}).json()
    [txn] = transactions_settle(transaction_id=accepted["transaction_id"])
    delivery = partner_callback_schedule(transaction=txn)
    return credentials, PartnerActivation.objects.get(reference="ADM-1"), delivery


@pytest.mark.parametrize("model", ["partneractivation", "callbackdelivery"])
def test_activations_and_callbacks_cannot_be_added_or_deleted_in_the_admin(admin_client, api_client, settled,
                                                                           model):
    # given
    credentials, activation, delivery = settled
    pk = activation.pk if model == "partneractivation" else delivery.pk

    # when
    add = admin_client.get(reverse(f"admin:partners_{model}_add"))
    delete_page = admin_client.get(reverse(f"admin:partners_{model}_delete", args=[pk]))
    delete_post = admin_client.post(reverse(f"admin:partners_{model}_delete", args=[pk]), {"post": "yes"})
    bulk = admin_client.post(reverse(f"admin:partners_{model}_changelist"),
                             {"action": "delete_selected", "_selected_action": [pk], "post": "yes"})
    change = admin_client.get(reverse(f"admin:partners_{model}_change", args=[pk]))

    # then: refused, the rows are there, and validate/ still answers
    assert (add.status_code, delete_page.status_code, delete_post.status_code) == (403, 403, 403)
    assert "delete_selected" not in change.content.decode() and change.status_code == 200
    assert 'name="_save"' not in change.content.decode()  # read-only: no Save button
    assert bulk.status_code in (200, 302)
    assert PartnerActivation.objects.filter(pk=activation.pk).exists()
    assert CallbackDelivery.objects.filter(pk=delivery.pk).exists()
    assert get_signed(api_client, credentials, validate_path("ADM-1")).status_code == 200


def test_the_changelists_offer_no_delete_action_and_keep_redeliver(admin_client, settled):
    # when
    activations = admin_client.get(reverse("admin:partners_partneractivation_changelist")).content.decode()
    callbacks = admin_client.get(reverse("admin:partners_callbackdelivery_changelist")).content.decode()

    # then
    assert "delete_selected" not in activations and "delete_selected" not in callbacks
    assert 'value="redeliver"' in callbacks


def test_redeliver_still_works_on_a_read_only_delivery(admin_client, settled):
    # given: nothing is enqueued for real (the test's transaction never commits anyway)
    _, _, delivery = settled
    CallbackDelivery.objects.filter(pk=delivery.pk).update(status="failed")

    # when
    response = admin_client.post(reverse("admin:partners_callbackdelivery_changelist"),
                                 {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True)

    # then: through the service, and logged
    assert response.status_code == 200
    assert CallbackDelivery.objects.get(pk=delivery.pk).status == "pending"
    assert LogEntry.objects.filter(object_id=str(delivery.pk), change_message="Queued for redelivery").exists()


def test_a_partner_is_never_deleted_in_the_admin(admin_client, settled):
    # given
    credentials, _, _ = settled
    pk = credentials.partner.pk

    # when
    delete_page = admin_client.get(reverse("admin:partners_partner_delete", args=[pk]))
    delete_post = admin_client.post(reverse("admin:partners_partner_delete", args=[pk]), {"post": "yes"})
    changelist = admin_client.get(reverse("admin:partners_partner_changelist")).content.decode()

    # then
    assert (delete_page.status_code, delete_post.status_code) == (403, 403)
    assert "delete_selected" not in changelist
    assert Partner.objects.filter(pk=pk).exists()
