import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from activation.models import IdempotencyKey, Transaction
from activation.services import idempotency_keys_prune, transaction_accept
from offers.services import KIND_OFFER_ACTIVATION
from tests.factories import OfferFactory, bearer, customer

pytestmark = pytest.mark.django_db


def activate(client, user, offer_id, key=None):
    headers = {"HTTP_AUTHORIZATION": bearer(user)}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/api/v1/activation/", {"offer_id": offer_id}, format="json", **headers)


def test_replaying_a_key_with_the_same_body_returns_the_original_transaction(api_client):
    # given
    user = customer(balance="50")
    offer = OfferFactory()
    first = activate(api_client, user, offer.id, key="order-1")

    # when
    replay = activate(api_client, user, offer.id, key="order-1")

    # then
    assert first.status_code == replay.status_code == 202
    assert replay.json()["transaction_id"] == first.json()["transaction_id"]
    assert replay["Idempotent-Replayed"] == "true"
    assert Transaction.objects.count() == 1


def test_the_same_key_with_a_different_body_is_422_and_writes_nothing(api_client):
    # given
    user = customer(balance="50")
    activate(api_client, user, OfferFactory().id, key="order-2")

    # when
    response = activate(api_client, user, OfferFactory().id, key="order-2")

    # then
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Transaction.objects.count() == 1


def test_keys_are_scoped_per_user(api_client):
    # given
    offer = OfferFactory()
    alice, bob = customer(balance="50"), customer(balance="50")

    # when
    a = activate(api_client, alice, offer.id, key="same-key")
    b = activate(api_client, bob, offer.id, key="same-key")

    # then
    assert a.json()["transaction_id"] != b.json()["transaction_id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ünïcode"])
def test_a_malformed_key_is_400(api_client, key):
    user = customer(balance="50")
    response = api_client.post("/api/v1/activation/", {"offer_id": OfferFactory().id}, format="json",
                               HTTP_AUTHORIZATION=bearer(user), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert Transaction.objects.count() == 0


def test_a_retained_key_survives_the_prune_and_an_ordinary_one_does_not():
    # given: two keys of the same age, past the retention period; the caller asked to keep one
    user, offer = customer(balance="50"), OfferFactory()
    for key, retained in (("kept", True), ("ordinary", False)):
        transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user.id, payload={"offer_id": offer.id},
                           idempotency_key=key, idempotency_retained=retained)
    retention = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    IdempotencyKey.objects.update(created_at=timezone.now() - retention - timedelta(minutes=1))

    # when
    deleted = idempotency_keys_prune()

    # then: the retained key still replays its transaction
    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", "retained")) == [("kept", True)]
    again = transaction_accept(kind=KIND_OFFER_ACTIVATION, user_id=user.id, payload={"offer_id": offer.id},
                               idempotency_key="kept")
    assert again.replayed and Transaction.objects.count() == 2


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_transaction():
    # given
    user = customer(balance="500")
    offer = OfferFactory(price=Decimal("1.00"))
    barrier = threading.Barrier(20)
    responses = []

    def submit():
        try:
            barrier.wait()
            responses.append(activate(APIClient(), user, offer.id, key="burst"))
        finally:
            connection.close()

    # when: 20 identical requests at the same instant
    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: one transaction; every other answer is either the replay or a 409 "in progress"
    assert Transaction.objects.filter(user=user).count() == 1
    assert IdempotencyKey.objects.filter(key="burst").count() == 1
    txn_id = str(Transaction.objects.get(user=user).pk)
    for response in responses:
        assert response.status_code in (202, 409), response.json()
        if response.status_code == 202:
            assert response.json()["transaction_id"] == txn_id
        else:
            assert response.json()["code"] == "idempotency_in_progress"
