"""Key rotation: the replaced key keeps authenticating for the overlap window
(PARTNER_KEY_ROTATION_OVERLAP_SECONDS), not after it; the admin asks before it rotates;
the rotation is in the partner's history, naming the operator."""
import pytest
from django.urls import reverse

from accounts.models import User
from partners.models import Partner
from partners.services import Credentials, partner_credentials_rotate
from tests.partners.signing import get_signed, partner, validate_path

pytestmark = pytest.mark.django_db


def authenticates(client, credentials: Credentials, reference: str) -> bool:
    """A signed GET of an unknown reference: 404 once authenticated, 401 if the key is refused."""
    status = get_signed(client, credentials, validate_path(reference)).status_code
    assert status in (401, 404), status
    return status == 404


def test_the_old_key_works_within_the_overlap_window(api_client, settings):
    # given
    settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS = 3600
    old = partner()

    # when
    new = partner_credentials_rotate(partner=old.partner)

    # then
    assert new.key_id != old.key_id
    assert authenticates(api_client, old, "ref-old")
    assert authenticates(api_client, new, "ref-new")


def test_the_old_key_is_refused_after_the_overlap_window(api_client, settings):
    # given: a window that has already ended when the rotation returns
    settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS = 0
    old = partner()

    # when
    new = partner_credentials_rotate(partner=old.partner)

    # then
    assert not authenticates(api_client, old, "ref-old")
    assert authenticates(api_client, new, "ref-new")


def test_revoking_at_once_and_a_second_rotation_end_the_old_key(api_client, settings):
    # given
    settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS = 3600
    first, leaked = partner(), partner()

    # when
    second = partner_credentials_rotate(partner=first.partner)
    partner_credentials_rotate(partner=second.partner)
    partner_credentials_rotate(partner=leaked.partner, revoke_previous=True)

    # then
    assert not authenticates(api_client, first, "ref-first")   # two rotations ago
    assert authenticates(api_client, second, "ref-second")     # the one just replaced
    assert not authenticates(api_client, leaked, "ref-leaked")


def test_the_admin_asks_before_rotating_and_the_rotation_is_in_the_history(client, api_client, settings):
    # given
    settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS = 3600
    operator = User.objects.create_superuser("rotator", "rotator@example.com", "pw-123456")
    client.force_login(operator)
    old = partner()
    changelist = reverse("admin:partners_partner_changelist")
    action = {"action": "rotate_credentials", "_selected_action": [old.partner.pk]}

    # when: the action first shows a confirmation page and changes nothing
    asked = client.post(changelist, action)

    # then
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Rotate credentials?" in page and "Yes, rotate" in page and 'name="revoke_previous"' in page
    assert Partner.objects.get(pk=old.partner.pk).key_id == old.key_id

    # when: confirmed
    done = client.post(changelist, {**action, "post": "yes"}, follow=True)

    # then
    rotated = Partner.objects.get(pk=old.partner.pk)
    assert rotated.key_id != old.key_id and rotated.key_id in done.content.decode()
    assert rotated.previous_key_id == old.key_id and rotated.previous_key_valid_until is not None
    assert authenticates(api_client, old, "ref-old")
    entry = rotated.history.latest()
    assert entry.history_user == operator
    assert entry.history_change_reason.startswith("Credentials rotated; previous key valid until")
    assert entry.key_id == rotated.key_id and entry.prev_record.key_id == old.key_id
    assert not hasattr(entry, "secret_encrypted")  # secrets are never copied into the history
    history_page = client.get(reverse("admin:partners_partner_history", args=[rotated.pk]))
    assert "Credentials rotated" in history_page.content.decode()


def test_the_admin_can_revoke_the_old_key_at_once(client, api_client):
    # given
    operator = User.objects.create_superuser("rotator2", "rotator2@example.com", "pw-123456")
    client.force_login(operator)
    old = partner()

    # when
    client.post(reverse("admin:partners_partner_changelist"),
                {"action": "rotate_credentials", "_selected_action": [old.partner.pk], "post": "yes",
                 "revoke_previous": "1"})

    # then
    rotated = Partner.objects.get(pk=old.partner.pk)
    assert rotated.key_id != old.key_id and rotated.previous_key_id == ""
    assert not authenticates(api_client, old, "ref-old")
    assert rotated.history.latest().history_change_reason == "Credentials rotated; previous key revoked at once"
