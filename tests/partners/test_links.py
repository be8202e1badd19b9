"""A partner acts only for the customers platform staff linked to it: an unlinked customer is
refused exactly like an unknown one (same 400, byte for byte) and nothing is written."""
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import LedgerEntry, User
from activation.models import IdempotencyKey, Transaction
from partners.models import PartnerActivation, PartnerCustomerLink
from partners.services import (PartnerCustomerUnknown, partner_activation_request, partner_customer_link,
                               partner_customer_unlink)
from tests.factories import OfferFactory, customer
from tests.helpers import assert_ledger_matches_balance
from tests.partners.signing import get_signed, partner, post_signed, validate_path

pytestmark = pytest.mark.django_db

UNKNOWN_CUSTOMER = {"code": "validation_error", "message": "The request is invalid.",
                    "details": {"customer": ["Unknown customer."]}}


def _nothing_written():
    assert Transaction.objects.count() == 0
    assert PartnerActivation.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0
    assert not LedgerEntry.objects.filter(reason="debit").exists()


@pytest.mark.parametrize("registered, unknown", [("bob@example.com", "nobody@example.com"),
                                                 ("+33610000001", "+33619999999")])
def test_an_unlinked_customer_is_refused_exactly_like_an_unknown_one(api_client, registered, unknown):
    # given: bob exists, with money, and is linked to another partner only
    bob = customer(balance="50.00", email="bob@example.com", phone="+33610000001")
    p, q = partner(), partner(customers=[bob])
    offer = OfferFactory()

    # when
    unlinked = post_signed(api_client, p, {"reference": "L-1", "customer": registered, "offer_id": offer.id})
    missing = post_signed(api_client, p, {"reference": "L-1", "customer": unknown, "offer_id": offer.id})

    # then: the same answer, byte for byte, and not a row written
    assert unlinked.status_code == missing.status_code == 400
    assert unlinked.content == missing.content
    assert unlinked.json() == UNKNOWN_CUSTOMER
    _nothing_written()
    assert assert_ledger_matches_balance(bob) == Decimal("50.00")


def test_the_service_refuses_an_unlinked_customer_before_writing_anything():
    # given
    bob = customer(balance="50.00", phone="+33610000002")
    credentials = partner()

    # when / then
    with pytest.raises(PartnerCustomerUnknown):
        partner_activation_request(partner=credentials.partner, reference="S-1", customer_identifier="+33610000002",
                                   offer=OfferFactory())
    _nothing_written()
    partner_customer_link(partner=credentials.partner, customer=bob)
    accepted = partner_activation_request(partner=credentials.partner, reference="S-1",
                                          customer_identifier="+33610000002", offer=OfferFactory())
    assert accepted.transaction.user == bob


@pytest.mark.parametrize("identifier", ["Bob@Example.com", "+33610000003"])
def test_a_linked_customer_is_activated(api_client, identifier):
    # given
    bob = customer(balance="50.00", email="bob@example.com", phone="+33610000003")
    credentials = partner(customers=[bob])

    # when
    response = post_signed(api_client, credentials, {"reference": "L-2", "customer": identifier,
                                                     "offer_id": OfferFactory().id})

    # then
    assert response.status_code == 202, response.json()
    assert Transaction.objects.get(pk=response.json()["transaction_id"]).user == bob


def test_unlinking_stops_new_activations_and_keeps_the_old_ones_readable(api_client):
    # given: one activation made while linked
    bob = customer(balance="50.00", phone="+33610000004")
    credentials = partner(customers=[bob])
    offer = OfferFactory()
    first = post_signed(api_client, credentials, {"reference": "U-1", "customer": "+33610000004",
                                                  "offer_id": offer.id})

    # when
    removed = partner_customer_unlink(partner=credentials.partner, customer=bob)
    again = post_signed(api_client, credentials, {"reference": "U-2", "customer": "+33610000004",
                                                  "offer_id": offer.id})

    # then
    assert first.status_code == 202 and removed is True
    assert again.status_code == 400 and again.json() == UNKNOWN_CUSTOMER
    assert Transaction.objects.count() == 1
    assert get_signed(api_client, credentials, validate_path("U-1")).status_code == 200
    assert partner_customer_unlink(partner=credentials.partner, customer=bob) is False


def test_an_inactive_linked_customer_is_unknown(api_client):
    # given
    bob = customer(balance="50.00", phone="+33610000005")
    credentials = partner(customers=[bob])
    User.objects.filter(pk=bob.pk).update(is_active=False)

    # when
    response = post_signed(api_client, credentials, {"reference": "I-1", "customer": "+33610000005",
                                                     "offer_id": OfferFactory().id})

    # then
    assert response.status_code == 400 and response.json() == UNKNOWN_CUSTOMER
    _nothing_written()


def test_linking_twice_keeps_one_link_and_its_author():
    # given
    staff = User.objects.create_superuser("linker", "linker@example.com", "pw-123456")
    bob = customer()
    credentials = partner()

    # when
    first = partner_customer_link(partner=credentials.partner, customer=bob, created_by_id=staff.id)
    second = partner_customer_link(partner=credentials.partner, customer=bob)

    # then
    assert first.pk == second.pk and second.created_by == staff
    assert PartnerCustomerLink.objects.filter(partner=credentials.partner).count() == 1


# --- the admin inline on the Partner page -----------------------------------------------------

def _partner_form(partner, rows: list[dict], initial: int = 0) -> dict:
    data = {"name": partner.name, "is_active": "on", "callback_url": partner.callback_url,
            "throttle_rate": partner.throttle_rate, "customer_links-TOTAL_FORMS": str(len(rows)),
            "customer_links-INITIAL_FORMS": str(initial), "customer_links-MIN_NUM_FORMS": "0",
            "customer_links-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data.update({f"customer_links-{i}-{key}": value for key, value in row.items()})
    return data


def test_staff_link_and_unlink_a_customer_on_the_partner_page(client, api_client):
    # given
    staff = User.objects.create_superuser("root-links", "root-links@example.com", "pw-123456")
    client.force_login(staff)
    bob = customer(balance="50.00", phone="+33610000006")
    credentials = partner()
    url = reverse("admin:partners_partner_change", args=[credentials.partner.pk])

    # when: linked in the admin
    page = client.get(url)
    linked = client.post(url, _partner_form(credentials.partner, [{"customer": bob.pk}]))

    # then: the link records who made it, and the partner may now activate for bob
    assert page.status_code == 200 and "customer_links-TOTAL_FORMS" in page.content.decode()
    assert linked.status_code == 302, linked.content.decode()[:2000]
    link = PartnerCustomerLink.objects.get(partner=credentials.partner, customer=bob)
    assert link.created_by == staff
    assert post_signed(api_client, credentials, {"reference": "A-1", "customer": "+33610000006",
                                                 "offer_id": OfferFactory().id}).status_code == 202

    # when: unlinked in the admin
    unlinked = client.post(url, _partner_form(credentials.partner, [{"id": link.pk, "DELETE": "on"}], initial=1))

    # then
    assert unlinked.status_code == 302, unlinked.content.decode()[:2000]
    assert not PartnerCustomerLink.objects.filter(partner=credentials.partner).exists()
    refused = post_signed(api_client, credentials, {"reference": "A-2", "customer": "+33610000006",
                                                    "offer_id": OfferFactory().id})
    assert refused.status_code == 400 and refused.json() == UNKNOWN_CUSTOMER


def test_a_linked_customer_cannot_be_linked_twice_in_the_admin(client):
    # given
    staff = User.objects.create_superuser("root-links2", "root-links2@example.com", "pw-123456")
    client.force_login(staff)
    bob = customer()
    credentials = partner(customers=[bob])
    url = reverse("admin:partners_partner_change", args=[credentials.partner.pk])
    link = PartnerCustomerLink.objects.get()

    # when: the existing row (read-only) plus a new row naming the same customer
    response = client.post(url, _partner_form(credentials.partner, [{"id": link.pk}, {"customer": bob.pk}],
                                              initial=1))

    # then: the form is shown again with an error; still one link
    assert response.status_code == 200
    assert PartnerCustomerLink.objects.count() == 1
