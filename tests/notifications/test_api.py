"""The in-app inbox: mine only, newest first, unread filter, mark read, read all."""
import pytest

from tests.factories import bearer, customer
from tests.notifications.factories import EmailNotificationFactory, InAppNotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inboxes():
    me, other = customer(username="me-inbox"), customer(username="other-inbox")
    older = InAppNotificationFactory(user=me, subject="older")
    newer = InAppNotificationFactory(user=me, subject="newer")
    EmailNotificationFactory(user=me, subject="email copy")  # not in the inbox
    theirs = InAppNotificationFactory(user=other, subject="theirs")
    return me, other, older, newer, theirs


def test_the_inbox_shows_only_my_in_app_notifications_newest_first(api_client, inboxes):
    # given
    me, _, older, newer, _ = inboxes
    api_client.credentials(HTTP_AUTHORIZATION=bearer(me))

    # when
    response = api_client.get("/api/v1/notifications/")

    # then
    assert response.status_code == 200
    results = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    assert [n["id"] for n in results] == [newer.id, older.id]
    assert results[0]["subject"] == "newer" and results[0]["is_read"] is False


def test_marking_read_and_the_unread_filter(api_client, inboxes):
    # given
    me, _, older, newer, _ = inboxes
    api_client.credentials(HTTP_AUTHORIZATION=bearer(me))

    # when
    marked = api_client.post(f"/api/v1/notifications/{older.id}/read/")
    unread = api_client.get("/api/v1/notifications/", {"unread": "true"})
    all_read = api_client.post("/api/v1/notifications/read-all/")
    unread_after = api_client.get("/api/v1/notifications/", {"unread": "true"})

    # then
    def ids(response):
        body = response.json()
        return [n["id"] for n in (body["results"] if isinstance(body, dict) else body)]

    assert marked.status_code == 200 and marked.json()["is_read"] is True and marked.json()["read_at"]
    assert ids(unread) == [newer.id]
    assert all_read.status_code == 200 and all_read.json() == {"marked_read": 1}
    assert ids(unread_after) == []


def test_another_users_notification_is_a_404_and_stays_unread(api_client, inboxes):
    # given
    me, _, _, _, theirs = inboxes
    api_client.credentials(HTTP_AUTHORIZATION=bearer(me))

    # when
    response = api_client.post(f"/api/v1/notifications/{theirs.id}/read/")

    # then
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_inbox_needs_a_login(api_client):
    # given / when
    response = api_client.get("/api/v1/notifications/")

    # then
    assert response.status_code == 401
