"""auth/register/: a customer signs up, logs in and activates an offer; duplicates and weak
passwords are refused naming the field, with nothing written; the endpoint is throttled per
client address."""
import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account, CustomerProfile, LedgerEntry, User
from accounts.services import CustomerRefused, customer_register
from activation.models import Transaction
from activation.services import transactions_settle
from offers.models import Subscription
from tests.factories import OfferFactory, bearer, customer
from tests.helpers import assert_ledger_matches_balance

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"code", "message", "details"}
REGISTER = "/api/v1/auth/register/"
STRONG = "correct-horse-battery"


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in (User, Account, CustomerProfile, LedgerEntry)}


@pytest.fixture
def staff():
    return customer(username="register-staff", is_staff=True)


def test_a_registered_customer_logs_in_and_activates_an_offer(api_client, staff, settings):
    # given: an offer, and staff who will fund the new customer
    offer = OfferFactory(price=Decimal("10.00"), currency=settings.DEFAULT_CURRENCY)

    # when: sign up, log in, get funded, activate, settle
    registered = api_client.post(REGISTER, {"username": "newbie", "password": STRONG, "email": "newbie@example.com",
                                            "phone": "+33612345678", "first_name": "New", "last_name": "Bie"},
                                 format="json")
    login = api_client.post("/api/v1/auth/login/", {"username": "newbie@example.com", "password": STRONG},
                            format="json")
    token = {"HTTP_AUTHORIZATION": f"Bearer {login.json()['access']}"}
    user_id = registered.json()["id"]
    topped = api_client.post(f"/api/v1/customers/{user_id}/top-up/", {"amount": "25.00", "reason": "welcome"},
                             format="json", HTTP_AUTHORIZATION=bearer(staff))
    accepted = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json", **token)
    transactions_settle(transaction_id=accepted.json()["transaction_id"], batch_size=1)
    status = api_client.get(f"/api/v1/activation/status/{accepted.json()['transaction_id']}/", **token)
    balance = api_client.get("/api/v1/account/balance/", **token)

    # then
    assert registered.status_code == 201, registered.json()
    assert registered.json() == {"id": user_id, "username": "newbie", "email": "newbie@example.com",
                                 "phone": "+33612345678"}
    assert login.status_code == 200 and topped.status_code == 200, (login.json(), topped.json())
    assert accepted.status_code == 202, accepted.json()
    assert status.json()["status"] == "SUCCEEDED", status.json()
    assert balance.json() == {"balance": "15.00", "currency": settings.DEFAULT_CURRENCY,
                              "updated_at": balance.json()["updated_at"]}
    user = User.objects.get(pk=user_id)
    assert (user.first_name, user.last_name, user.is_staff, user.is_active) == ("New", "Bie", False, True)
    assert Subscription.objects.filter(user=user, offer=offer, status="active").count() == 1
    assert assert_ledger_matches_balance(user) == Decimal("15.00")


def test_registration_with_a_phone_only_gets_an_account_in_the_default_currency(api_client, settings):
    # when
    response = api_client.post(REGISTER, {"username": "phoney", "password": STRONG, "phone": "+33699999999"},
                               format="json")

    # then
    assert response.status_code == 201, response.json()
    assert response.json()["email"] is None
    account = Account.objects.get(user_id=response.json()["id"])
    assert (account.currency, account.balance) == (settings.DEFAULT_CURRENCY, Decimal("0.00"))
    assert CustomerProfile.objects.get(user_id=response.json()["id"]).phone == "+33699999999"


def test_two_customers_without_an_email_address_can_both_register(api_client):
    # when
    first = api_client.post(REGISTER, {"username": "nomail1", "password": STRONG, "phone": "+33611111111"},
                            format="json")
    second = api_client.post(REGISTER, {"username": "nomail2", "password": STRONG, "phone": "+33622222222"},
                             format="json")

    # then: a missing email is NULL, not "" (which the unique column would hold against the second)
    assert (first.status_code, second.status_code) == (201, 201), second.json()
    assert list(User.objects.filter(username__startswith="nomail").values_list("email", flat=True)) == [None, None]


@pytest.mark.parametrize("body,field", [
    ({"username": "Taken", "email": "fresh@example.com"}, "username"),  # case does not make it new
    ({"username": "fresh", "email": "TAKEN@example.com"}, "email"),
    ({"username": "fresh", "phone": "+33600000001"}, "phone"),
    ({"username": "fresh", "email": "fresh@example.com", "password": "short"}, "password"),
    ({"username": "fresh"}, "email"),  # neither email nor phone
    ({"username": "fresh", "email": "not-an-email"}, "email"),
    ({"username": "fresh", "phone": "call me"}, "phone"),
    ({"username": "has space", "email": "fresh@example.com"}, "username"),
    ({"username": "fresh", "email": "fresh@example.com", "is_staff": True}, "is_staff"),
    ({"username": "fresh", "email": "fresh@example.com", "latitude": "48.85"}, "latitude"),
    ({"username": "fresh", "email": "fresh@example.com", "segment": "premium"}, "segment"),
])
def test_duplicate_weak_or_bad_registrations_are_400_naming_the_field_and_write_nothing(api_client, body, field):
    # given
    customer(username="taken", email="taken@example.com", phone="+33600000001")
    before = counts()

    # when
    response = api_client.post(REGISTER, {"password": STRONG, **body}, format="json")

    # then
    assert response.status_code == 400, response.json()
    assert set(response.json()) == ERROR_KEYS and response.json()["code"] == "validation_error"
    assert field in response.json()["details"], response.json()
    assert counts() == before


def test_a_taken_address_is_all_a_refusal_reveals(api_client):
    # given
    customer(username="known", email="known@example.com")

    # when
    response = api_client.post(REGISTER, {"username": "other", "password": STRONG, "email": "known@example.com"},
                               format="json")

    # then: the field and "already registered", nothing about the account behind it
    assert response.status_code == 400
    assert response.json() == {"code": "validation_error", "message": "The request is invalid.",
                               "details": {"email": ["This email address is already registered."]}}


def test_the_configured_password_validators_decide(api_client, settings):
    # given: a deployment that also refuses passwords like the user's attributes
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"}]

    # when
    response = api_client.post(REGISTER, {"username": "mimic", "password": "mimic@example.com",
                                          "email": "mimic@example.com"}, format="json")

    # then
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["password"]
    assert not User.objects.filter(username="mimic").exists()


def test_registration_is_throttled_per_address_after_the_rate(api_client):
    # given: THROTTLE_REGISTER is 5/min
    statuses = [api_client.post(REGISTER, {"username": f"burst{i}", "password": STRONG,
                                           "email": f"burst{i}@example.com"}, format="json").status_code
                for i in range(5)]
    before = counts()

    # when
    refused = api_client.post(REGISTER, {"username": "burst5", "password": STRONG, "email": "burst5@example.com"},
                              format="json")

    # then
    assert statuses == [201] * 5
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert counts() == before


def test_another_address_is_not_held_up_by_a_throttled_one(api_client):
    # given: one address used up its registrations
    for i in range(6):
        api_client.post(REGISTER, {"username": f"a{i}", "password": STRONG, "email": f"a{i}@example.com"},
                        format="json")

    # when
    other = api_client.post(REGISTER, {"username": "b0", "password": STRONG, "email": "b0@example.com"},
                            format="json", REMOTE_ADDR="10.1.2.3")

    # then
    assert other.status_code == 201, other.json()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_parallel_registrations_of_one_username_create_one_user_and_refuse_the_others_by_field():
    # given: 8 threads register the same username at the same moment (each past the pre-check)
    start = threading.Barrier(8)
    created, refused, failed = [], [], []

    def register(i: int) -> None:
        try:
            start.wait()
            created.append(customer_register(username="twin", password=STRONG, email=f"twin{i}@example.com"))
        except CustomerRefused as exc:
            refused.append(exc.details)
        except Exception as exc:  # an IntegrityError leaking out would be a 500
            failed.append(repr(exc))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert failed == []
    assert len(created) == 1 and len(refused) == 7
    assert all(details == {"username": ["This username is already taken."]} for details in refused)
    assert User.objects.filter(username="twin").count() == 1
    assert Account.objects.filter(user__username="twin").count() == 1
