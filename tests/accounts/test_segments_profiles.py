"""users/segments/ (staff CRUD; customers list slug and name) and users/profiles/ (staff:
any profile, segment by slug or id; a customer: their own, other ids 404)."""
import pytest
from django.contrib.admin.models import LogEntry

from accounts.models import CustomerProfile, Segment
from tests.campaigns.factories import CampaignFactory
from tests.factories import SegmentFactory, bearer, customer
from tests.flash.factories import running_promo

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def staff():
    return customer(username="segmenter", is_staff=True)


@pytest.fixture
def auth(staff):
    return {"HTTP_AUTHORIZATION": bearer(staff)}


def test_staff_create_read_update_and_delete_a_segment(api_client, auth, staff):
    # when
    created = api_client.post("/api/v1/users/segments/", {"slug": "night-owls", "name": "Night owls",
                                                          "description": "Order after 22:00"}, format="json", **auth)
    pk = created.json()["id"]
    duplicate = api_client.post("/api/v1/users/segments/", {"slug": "night-owls", "name": "Again"}, format="json",
                                **auth)
    put = api_client.put(f"/api/v1/users/segments/{pk}/", {"slug": "owls", "name": "Owls"}, format="json", **auth)
    patch = api_client.patch(f"/api/v1/users/segments/{pk}/", {"description": "Late"}, format="json", **auth)
    detail = api_client.get(f"/api/v1/users/segments/{pk}/", **auth)
    deleted = api_client.delete(f"/api/v1/users/segments/{pk}/", **auth)

    # then
    assert created.status_code == 201, created.json()
    assert duplicate.status_code == 400 and "slug" in duplicate.json()["details"]
    assert put.status_code == 200 and put.json()["slug"] == "owls"
    assert patch.status_code == 200
    assert detail.json() == {"id": pk, "slug": "owls", "name": "Owls", "description": "Late"}
    assert deleted.status_code == 204 and not Segment.objects.filter(pk=pk).exists()
    assert LogEntry.objects.filter(user=staff, object_id=str(pk)).count() == 4  # add, change, change, delete


@pytest.mark.parametrize("used_by", ["campaign", "flash_promo"])
def test_a_segment_that_campaigns_or_promos_target_cannot_be_deleted(api_client, auth, used_by):
    # given
    segment = SegmentFactory(slug="targeted")
    if used_by == "campaign":
        CampaignFactory(is_targeted=True).target_segments.add(segment)
    else:
        running_promo(segments=[segment])

    # when
    response = api_client.delete(f"/api/v1/users/segments/{segment.id}/", **auth)

    # then
    assert response.status_code == 409 and response.json()["code"] == "segment_in_use", response.json()
    assert set(response.json()) == ERROR_KEYS
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_deleting_a_segment_customers_are_in_leaves_them_without_one(api_client, auth):
    # given
    segment = SegmentFactory(slug="lonely")
    member = customer(segment=segment)

    # when
    response = api_client.delete(f"/api/v1/users/segments/{segment.id}/", **auth)

    # then
    assert response.status_code == 204
    assert CustomerProfile.objects.get(user=member).segment is None


def test_customers_list_segments_by_slug_and_name_only_and_cannot_change_them(api_client):
    # given
    segment = SegmentFactory(slug="gold", name="Gold")
    Segment.objects.filter(pk=segment.pk).update(description="internal notes")
    auth = {"HTTP_AUTHORIZATION": bearer(customer())}

    # when
    listed = api_client.get("/api/v1/users/segments/", **auth)
    created = api_client.post("/api/v1/users/segments/", {"slug": "mine", "name": "Mine"}, format="json", **auth)
    detail = api_client.get(f"/api/v1/users/segments/{segment.id}/", **auth)

    # then
    assert listed.status_code == 200 and listed.json()["results"] == [{"slug": "gold", "name": "Gold"}]
    assert created.status_code == 403 and detail.status_code == 403
    assert not Segment.objects.filter(slug="mine").exists()


def test_staff_list_and_update_any_profile_naming_the_segment_by_slug_or_id(api_client, auth):
    # given
    gold, silver = SegmentFactory(slug="gold"), SegmentFactory(slug="silver")
    someone = customer(segment=silver)
    customer()

    # when
    by_slug = api_client.patch(f"/api/v1/users/profiles/{someone.profile.id}/", {"segment": "gold"}, format="json",
                               **auth)
    listed = api_client.get("/api/v1/users/profiles/?segment=gold", **auth)
    by_id = api_client.patch(f"/api/v1/users/profiles/{someone.profile.id}/", {"segment": silver.id}, format="json",
                             **auth)
    cleared = api_client.patch(f"/api/v1/users/profiles/{someone.profile.id}/", {"segment": None}, format="json",
                               **auth)
    unknown = api_client.patch(f"/api/v1/users/profiles/{someone.profile.id}/", {"segment": "bronze"},
                               format="json", **auth)

    # then
    assert by_slug.status_code == 200 and by_slug.json()["segment"] == "gold", by_slug.json()
    assert [p["user_id"] for p in listed.json()["results"]] == [someone.id]
    assert by_id.json()["segment"] == "silver"
    assert cleared.json()["segment"] is None
    assert unknown.status_code == 400 and "segment" in unknown.json()["details"]
    assert CustomerProfile.objects.get(user=someone).segment is None
    assert gold.profiles.count() == 0


def test_a_customer_reads_and_changes_their_own_profile_and_no_other(api_client):
    # given
    me, other = customer(), customer()
    auth = {"HTTP_AUTHORIZATION": bearer(me)}

    # when
    mine = api_client.get(f"/api/v1/users/profiles/{me.profile.id}/", **auth)
    theirs = api_client.get(f"/api/v1/users/profiles/{other.profile.id}/", **auth)
    patch_theirs = api_client.patch(f"/api/v1/users/profiles/{other.profile.id}/", {"timezone": "Asia/Tokyo"},
                                    format="json", **auth)
    patch_me = api_client.patch("/api/v1/users/profiles/me/", {"timezone": "Asia/Tokyo", "phone": "+33655555555"},
                                format="json", **auth)
    via_id = api_client.patch(f"/api/v1/users/profiles/{me.profile.id}/", {"email_opt_out": True}, format="json",
                              **auth)
    segment = api_client.patch("/api/v1/users/profiles/me/", {"segment": "gold"}, format="json", **auth)
    listing = api_client.get("/api/v1/users/profiles/", **auth)

    # then
    assert mine.status_code == 200 and mine.json()["id"] == me.profile.id
    assert theirs.status_code == 404 and patch_theirs.status_code == 404
    assert set(theirs.json()) == ERROR_KEYS
    assert CustomerProfile.objects.get(user=other).timezone == "UTC"
    assert patch_me.status_code == 200 and patch_me.json()["timezone"] == "Asia/Tokyo"
    assert via_id.status_code == 200 and via_id.json()["email_opt_out"] is True
    assert segment.status_code == 400 and "segment" in segment.json()["details"]  # segments are set by staff
    assert listing.status_code == 403
    assert api_client.get("/api/v1/users/profiles/me/", **auth).json()["phone"] == "+33655555555"
