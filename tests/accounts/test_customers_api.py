"""customers/ (staff): list with search and filters, create, detail, PATCH, deactivate
(no login, tokens refused), top-up (one ledger row naming the operator and the reason, a
LogEntry, balance == sum(ledger))."""
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Account, LedgerEntry, LocationChange, User
from tests.factories import PASSWORD, SegmentFactory, bearer, customer
from tests.helpers import assert_ledger_matches_balance

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "details"}


@pytest.fixture
def staff():
    return customer(username="desk", is_staff=True)


@pytest.fixture
def auth(staff):
    return {"HTTP_AUTHORIZATION": bearer(staff)}


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [c["username"] for c in response.json()["results"]]


def test_the_list_searches_username_email_and_phone_and_filters_by_segment_and_activity(api_client, auth):
    # given
    gold = SegmentFactory(slug="gold")
    customer(username="ana", email="ana@shop.example", phone="+33611110001", segment=gold)
    customer(username="bruno", email="b@example.com", phone="+33699990002")
    gone = customer(username="carla", email="carla@shop.example", segment=gold)
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    # when / then
    assert usernames(api_client.get("/api/v1/customers/", **auth)) == ["ana", "bruno", "carla"]  # no staff
    assert usernames(api_client.get("/api/v1/customers/?search=shop.example", **auth)) == ["ana", "carla"]
    assert usernames(api_client.get("/api/v1/customers/?search=BRU", **auth)) == ["bruno"]
    assert usernames(api_client.get("/api/v1/customers/?search=99990", **auth)) == ["bruno"]
    assert usernames(api_client.get("/api/v1/customers/?segment=gold", **auth)) == ["ana", "carla"]
    assert usernames(api_client.get(f"/api/v1/customers/?segment={gold.id}", **auth)) == ["ana", "carla"]
    assert usernames(api_client.get("/api/v1/customers/?segment=gold&is_active=true", **auth)) == ["ana"]
    assert usernames(api_client.get("/api/v1/customers/?is_active=false", **auth)) == ["carla"]
    unknown = api_client.get("/api/v1/customers/?segment=nope", **auth)
    assert unknown.status_code == 400 and "segment" in unknown.json()["details"]


def test_staff_create_a_customer_with_segment_currency_and_location(api_client, auth, staff):
    # given
    SegmentFactory(slug="students")

    # when
    response = api_client.post("/api/v1/customers/", {
        "username": "walkin", "password": "walk-in-pass-1", "email": "walkin@example.com", "segment": "students",
        "currency": "USD", "latitude": "48.8606", "longitude": "2.3376", "timezone": "Europe/Paris"}, format="json",
        **auth)

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["segment"], body["currency"], body["balance"], body["latitude"], body["timezone"]) == (
        "students", "USD", "0.00", "48.860600", "Europe/Paris")
    change = LocationChange.objects.get(user_id=body["id"])
    assert (change.changed_by, change.old_latitude, change.new_longitude) == (staff, None, Decimal("2.3376"))
    assert LogEntry.objects.filter(object_id=str(body["id"]), user=staff).exists()


def test_detail_shows_balance_currency_segment_and_location_and_staff_users_are_not_customers(api_client, auth,
                                                                                                staff):
    # given
    someone = customer(balance="12.50", segment=SegmentFactory(slug="vip"), latitude="1.5", longitude="2.5")

    # when
    detail = api_client.get(f"/api/v1/customers/{someone.id}/", **auth)
    of_staff = api_client.get(f"/api/v1/customers/{staff.id}/", **auth)

    # then
    assert detail.status_code == 200
    assert {k: detail.json()[k] for k in ("balance", "currency", "segment", "latitude", "longitude")} == {
        "balance": "12.50", "currency": "EUR", "segment": "vip", "latitude": "1.500000", "longitude": "2.500000"}
    assert of_staff.status_code == 404 and set(of_staff.json()) == ERROR_KEYS


def test_patch_changes_the_allowed_fields_and_records_a_location_change(api_client, auth, staff):
    # given
    someone = customer(phone="+33600000011")
    SegmentFactory(slug="gold")

    # when
    patched = api_client.patch(f"/api/v1/customers/{someone.id}/", {
        "first_name": "Zoe", "segment": "gold", "latitude": "45.0", "longitude": "5.0", "phone": "+33600000012"},
        format="json", **auth)
    refused = api_client.patch(f"/api/v1/customers/{someone.id}/", {"username": "renamed", "is_staff": True},
                               format="json", **auth)

    # then
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["first_name"], patched.json()["segment"], patched.json()["phone"]) == (
        "Zoe", "gold", "+33600000012")
    assert LocationChange.objects.filter(user=someone, changed_by=staff, new_latitude=Decimal("45")).count() == 1
    assert refused.status_code == 400 and set(refused.json()["details"]) == {"username", "is_staff"}
    assert User.objects.get(pk=someone.pk).username == someone.username


def test_a_deactivated_customer_cannot_log_in_and_their_tokens_are_refused(api_client, auth):
    # given: a customer with a session
    someone = customer(username="leaving")
    tokens = api_client.post("/api/v1/auth/login/", {"username": "leaving", "password": PASSWORD},
                             format="json").json()
    access = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    assert api_client.get("/api/v1/account/balance/", **access).status_code == 200

    # when
    response = api_client.post(f"/api/v1/customers/{someone.id}/deactivate/", {}, format="json", **auth)
    again = api_client.post(f"/api/v1/customers/{someone.id}/deactivate/", format="json", **auth)

    # then
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert again.status_code == 200
    login = api_client.post("/api/v1/auth/login/", {"username": "leaving", "password": PASSWORD}, format="json")
    assert login.status_code == 401 and set(login.json()) == ERROR_KEYS
    with_access = api_client.get("/api/v1/account/balance/", **access)
    assert with_access.status_code == 401 and with_access.json()["details"] == {"code": "user_inactive"}
    refresh = api_client.post("/api/v1/auth/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401
    assert BlacklistedToken.objects.filter(token__jti=RefreshToken(tokens["refresh"], verify=False)["jti"]).exists()
    assert LogEntry.objects.filter(object_id=str(someone.id), change_message="Deactivated through the API").count() == 1


def test_deactivation_blacklists_every_refresh_token_so_a_reactivation_revives_no_session(api_client, auth):
    # given
    someone = customer(username="returning")
    refresh = api_client.post("/api/v1/auth/login/", {"username": "returning", "password": PASSWORD},
                              format="json").json()["refresh"]

    # when: deactivated, then reactivated by hand (the admin)
    api_client.post(f"/api/v1/customers/{someone.id}/deactivate/", format="json", **auth)
    User.objects.filter(pk=someone.pk).update(is_active=True)

    # then: the old session stays dead; a new login works
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401
    assert api_client.post("/api/v1/auth/login/", {"username": "returning", "password": PASSWORD},
                           format="json").status_code == 200


def test_a_top_up_writes_one_ledger_row_naming_operator_and_reason_and_a_log_entry(api_client, auth, staff):
    # given
    someone = customer(balance="5.00")
    rows = LedgerEntry.objects.filter(account__user=someone).count()

    # when
    response = api_client.post(f"/api/v1/customers/{someone.id}/top-up/",
                               {"amount": "20.00", "reason": "refund of order 77"}, format="json", **auth)

    # then
    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in ("balance", "currency", "amount")} == {
        "balance": "25.00", "currency": "EUR", "amount": "20.00"}
    entries = LedgerEntry.objects.filter(account__user=someone).order_by("id")
    assert entries.count() == rows + 1
    entry = entries.last()
    assert entry.pk == response.json()["ledger_entry_id"]
    assert (entry.reason, entry.amount, entry.description) == ("top_up", Decimal("20.00"),
                                                               "by desk: refund of order 77")
    account = Account.objects.get(user=someone)
    log = LogEntry.objects.get(object_id=str(account.pk), user=staff)
    assert "refund of order 77" in log.change_message
    assert assert_ledger_matches_balance(someone) == Decimal("25.00")


@pytest.mark.parametrize("body,field", [
    ({"amount": "0", "reason": "x"}, "amount"),
    ({"amount": "-5.00", "reason": "x"}, "amount"),
    ({"amount": "1.001", "reason": "x"}, "amount"),
    ({"amount": "10.00"}, "reason"),
    ({"amount": "10.00", "reason": "   "}, "reason"),
    ({"amount": "10000000000.00", "reason": "x"}, "amount"),
    ({"amount": "10.00", "reason": "x", "operator": 1}, "operator"),
])
def test_a_bad_top_up_is_400_and_writes_nothing(api_client, auth, body, field):
    # given
    someone = customer(balance="5.00")
    before = (LedgerEntry.objects.count(), LogEntry.objects.count())

    # when
    response = api_client.post(f"/api/v1/customers/{someone.id}/top-up/", body, format="json", **auth)

    # then
    assert response.status_code == 400 and field in response.json()["details"], response.json()
    assert (LedgerEntry.objects.count(), LogEntry.objects.count()) == before
    assert assert_ledger_matches_balance(someone) == Decimal("5.00")


def test_a_top_up_past_the_largest_balance_is_409_and_writes_nothing(api_client, auth):
    # given
    someone = customer(balance="9999999990.00")

    # when
    response = api_client.post(f"/api/v1/customers/{someone.id}/top-up/", {"amount": "10.00", "reason": "x"},
                               format="json", **auth)

    # then
    assert response.status_code == 409 and response.json()["code"] == "balance_limit"
    assert assert_ledger_matches_balance(someone) == Decimal("9999999990.00")


def test_customers_are_staff_only(api_client):
    # given
    someone, other = customer(), customer()
    as_customer = {"HTTP_AUTHORIZATION": bearer(other)}

    # when / then
    assert api_client.get("/api/v1/customers/", **as_customer).status_code == 403
    assert api_client.post(f"/api/v1/customers/{someone.id}/top-up/", {"amount": "1.00", "reason": "x"},
                           format="json", **as_customer).status_code == 403
    assert api_client.post(f"/api/v1/customers/{someone.id}/deactivate/", format="json",
                           **as_customer).status_code == 403
    assert assert_ledger_matches_balance(someone) == Decimal("0")
    assert User.objects.get(pk=someone.pk).is_active
