"""The accounts admin goes through the same services as the API: a location changed on the
user's page is recorded (LocationChange) and half a location refused; a segment that
campaigns or promotions target is not deleted."""
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import CustomerProfile, LocationChange, Segment, User
from tests.campaigns.factories import CampaignFactory
from tests.factories import SegmentFactory, customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return user


def user_form(user: User, **profile) -> dict:
    """The user's change form as the admin renders it, with profile fields changed."""
    current = CustomerProfile.objects.get(user=user)
    data = {
        "username": user.username, "email": user.email or "", "first_name": "", "last_name": "",
        "is_active": "on", "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"), "last_login_0": "", "last_login_1": "",
        "profile-TOTAL_FORMS": "1", "profile-INITIAL_FORMS": "1", "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1", "profile-0-id": str(current.pk), "profile-0-user": str(user.pk),
        "profile-0-phone": current.phone or "", "profile-0-segment": current.segment_id or "",
        "profile-0-latitude": current.latitude if current.latitude is not None else "",
        "profile-0-longitude": current.longitude if current.longitude is not None else "",
        "profile-0-timezone": current.timezone, "profile-0-email_opt_out": "",
    }
    data.update({f"profile-0-{name}": value for name, value in profile.items()})
    return data


def test_a_location_changed_in_the_admin_is_recorded_naming_the_operator(client, root):
    # given
    someone = customer(latitude="10.000000", longitude="20.000000")
    url = reverse("admin:accounts_user_change", args=[someone.pk])

    # when
    response = client.post(url, user_form(someone, latitude="48.8606", longitude="2.3376", timezone="Asia/Tokyo"))

    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    profile = CustomerProfile.objects.get(user=someone)
    assert (profile.latitude, profile.longitude, profile.timezone) == (Decimal("48.8606"), Decimal("2.3376"),
                                                                       "Asia/Tokyo")
    assert list(LocationChange.objects.values_list("user", "changed_by", "old_latitude", "new_latitude")) == [
        (someone.pk, root.pk, Decimal("10"), Decimal("48.8606"))]


def test_half_a_location_in_the_admin_is_refused_and_nothing_is_saved(client, root):
    # given
    someone = customer()
    url = reverse("admin:accounts_user_change", args=[someone.pk])

    # when
    response = client.post(url, {**user_form(someone, latitude="48.8606"), "first_name": "Changed"}, follow=True)

    # then
    assert "Latitude and longitude go together" in response.content.decode()
    assert CustomerProfile.objects.get(user=someone).latitude is None
    assert User.objects.get(pk=someone.pk).first_name == ""
    assert not LocationChange.objects.exists()


def test_a_targeted_segment_is_not_deleted_in_the_admin(client, root):
    # given
    used, unused = SegmentFactory(slug="used"), SegmentFactory(slug="unused")
    CampaignFactory(is_targeted=True).target_segments.add(used)

    # when
    response = client.post(reverse("admin:accounts_segment_changelist"), {
        "action": "delete_selected", "post": "yes", "_selected_action": [used.pk, unused.pk]}, follow=True)

    # then
    assert "campaigns or promotions" in response.content.decode()
    assert list(Segment.objects.values_list("slug", flat=True)) == ["used"]


def test_location_changes_are_read_only_in_the_admin(client, root):
    # given
    change = LocationChange.objects.create(user=customer(), changed_by=root, new_latitude=1, new_longitude=1)

    # then
    assert client.get(reverse("admin:accounts_locationchange_change", args=[change.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_locationchange_add")).status_code == 403
    assert client.post(reverse("admin:accounts_locationchange_delete", args=[change.pk]),
                       {"post": "yes"}).status_code == 403
