"""A customer's location (flash promos decide by the distance from it) is set by staff only:
every self-service path refuses it with 403 `location_set_by_staff` and changes nothing;
every staff change is recorded (LocationChange: who, old, new)."""
from decimal import Decimal

import pytest

from accounts.models import CustomerProfile, LocationChange
from accounts.services import LocationSetByStaff, profile_update
from tests.factories import bearer, customer

pytestmark = pytest.mark.django_db


def profile_row(user) -> dict:
    return CustomerProfile.objects.values().get(user=user)


@pytest.mark.parametrize("path", ["/api/v1/auth/profile/", "/api/v1/users/profiles/me/", "own-id"])
@pytest.mark.parametrize("body", [{"latitude": "48.8606", "longitude": "2.3376"}, {"latitude": "48.8606"},
                                  {"longitude": None}, {"latitude": "48.8606", "timezone": "Asia/Tokyo"}])
def test_a_customer_cannot_set_their_own_location_and_nothing_changes(api_client, path, body):
    # given
    me = customer(latitude="10.000000", longitude="20.000000")
    path = f"/api/v1/users/profiles/{me.profile.id}/" if path == "own-id" else path
    before = profile_row(me)

    # when
    response = api_client.patch(path, body, format="json", HTTP_AUTHORIZATION=bearer(me))

    # then
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "location_set_by_staff"
    assert set(response.json()) == {"code", "message", "details"}
    assert profile_row(me) == before
    assert not LocationChange.objects.exists()


def test_the_other_profile_fields_still_change_without_a_location(api_client):
    # given
    me = customer(latitude="10.000000", longitude="20.000000")

    # when
    response = api_client.patch("/api/v1/auth/profile/", {"timezone": "Asia/Tokyo", "first_name": "Kei"},
                                format="json", HTTP_AUTHORIZATION=bearer(me))

    # then
    assert response.status_code == 200, response.json()
    assert (response.json()["timezone"], response.json()["first_name"]) == ("Asia/Tokyo", "Kei")
    assert (response.json()["latitude"], response.json()["longitude"]) == ("10.000000", "20.000000")


@pytest.mark.parametrize("path", ["customers", "profiles"])
def test_each_staff_change_of_a_location_is_recorded_with_who_old_and_new(api_client, path):
    # given
    staff = customer(username="geo-desk", is_staff=True)
    someone = customer(latitude="10.000000", longitude="20.000000")
    url = (f"/api/v1/customers/{someone.id}/" if path == "customers"
           else f"/api/v1/users/profiles/{someone.profile.id}/")
    auth = {"HTTP_AUTHORIZATION": bearer(staff)}

    # when
    moved = api_client.patch(url, {"latitude": "48.8606", "longitude": "2.3376"}, format="json", **auth)
    unchanged = api_client.patch(url, {"latitude": "48.860600"}, format="json", **auth)
    other_field = api_client.patch(url, {"timezone": "Europe/Paris"}, format="json", **auth)
    cleared = api_client.patch(url, {"latitude": None, "longitude": None}, format="json", **auth)

    # then
    assert [r.status_code for r in (moved, unchanged, other_field, cleared)] == [200] * 4, moved.json()
    changes = list(LocationChange.objects.filter(user=someone).order_by("id").values_list(
        "changed_by", "old_latitude", "old_longitude", "new_latitude", "new_longitude"))
    assert changes == [
        (staff.id, Decimal("10"), Decimal("20"), Decimal("48.8606"), Decimal("2.3376")),
        (staff.id, Decimal("48.8606"), Decimal("2.3376"), None, None),
    ]
    assert profile_row(someone)["latitude"] is None


def test_half_a_location_is_refused(api_client):
    # given
    staff = customer(username="geo-half", is_staff=True)
    someone = customer()

    # when
    response = api_client.patch(f"/api/v1/customers/{someone.id}/", {"latitude": "48.8606"}, format="json",
                                HTTP_AUTHORIZATION=bearer(staff))

    # then
    assert response.status_code == 400 and "latitude" in response.json()["details"]
    assert profile_row(someone)["latitude"] is None and not LocationChange.objects.exists()


def test_the_rule_is_in_the_service_for_every_caller():
    # given
    me = customer()

    # when / then: however it is called, a customer's own change of location is refused
    with pytest.raises(LocationSetByStaff):
        profile_update(user=me, latitude=Decimal("1"), longitude=Decimal("1"))
    with pytest.raises(LocationSetByStaff):
        profile_update(user=me, changed_by=me, longitude=Decimal("1"))
    assert profile_row(me)["latitude"] is None
