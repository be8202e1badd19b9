"""Idempotency keys and partner replay nonces do not pile up: the first are pruned by a beat
task after IDEMPOTENCY_KEY_RETENTION_HOURS, the second expire in Redis after twice the
allowed signature skew."""
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from activation.models import IdempotencyKey
from activation.tasks import idempotency_keys_prune_task
from tests.factories import OfferFactory, bearer, customer
from tests.partners.signing import partner, post_signed

pytestmark = pytest.mark.django_db


def test_the_prune_task_is_scheduled_hourly_by_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["idempotency-keys-prune"]
    assert entry["task"] == "activation.tasks.idempotency_keys_prune_task"
    assert entry["schedule"] <= 3600


def test_idempotency_keys_older_than_the_retention_are_pruned(api_client):
    # given: two keys from real requests, one of them older than the retention period
    alice = customer(balance="50.00")
    offer = OfferFactory()
    api_client.credentials(HTTP_AUTHORIZATION=bearer(alice))
    for key in ("old-key", "fresh-key"):
        response = api_client.post("/api/v1/activation/", {"offer_id": offer.id}, format="json",
                                   HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 202, response.json()
    retention = timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    IdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - retention - timedelta(minutes=1))

    # when: the beat task runs (called as the worker calls it)
    deleted = idempotency_keys_prune_task.apply().get()

    # then
    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh-key"]


def test_partner_replay_nonces_expire_after_twice_the_signature_skew(api_client):
    # given
    alice = customer(balance="50.00", phone="+33600000077")
    offer = OfferFactory()
    credentials = partner(customers=[alice])

    # when
    response = post_signed(api_client, credentials, {"reference": "r-1", "customer": alice.profile.phone,
                                                     "offer_id": offer.id})

    # then: the nonce is in Redis with a TTL, never without one
    assert response.status_code == 202, response.json()
    store = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    keys = [k for k in store.scan_iter(match="*partner-signature:*")]
    assert len(keys) == 1
    ttl = store.ttl(keys[0])
    assert 0 < ttl <= 2 * settings.PARTNER_SIGNATURE_MAX_SKEW_SECONDS
    assert cache.get(keys[0].decode().split(":", 2)[2]) == 1
