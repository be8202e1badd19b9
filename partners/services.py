"""Every write of the partners app: credentials, customer links, partner activations and
reversals, callback delivery."""
from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

import requests
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from activation.models import Transaction
from activation.services import Accepted, transaction_reverse
from kernel.errors import ApplicationError, IdempotencyKeyReused
from kernel.outbox import Claim, Delivery, Outbox
from kernel.request_id import HEADER as REQUEST_ID_HEADER
from offers.models import Offer
from offers.results import partner_reference_of
from offers.services import offer_activation_request
from partners.locks import callback_delivery_for_update
from partners.models import (CallbackAttempt, CallbackDelivery, Partner, PartnerActivation, PartnerCustomerLink,
                             throttle_rate_validator)
from partners.selectors import (partner_activation_get, partner_customer_get, partner_get_by_key,
                                partner_get_by_previous_key)
from partners.signing import (HEADER_EVENT_ID, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
                              credentials_generate, secret_decrypt, secret_encrypt, signature_compute)

logger = logging.getLogger(__name__)


# --- credentials -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    partner: Partner
    key_id: str
    secret: str  # shown once, never stored in clear


def partner_create(*, name: str, callback_url: str = "", throttle_rate: str = "") -> Credentials:
    if callback_url:
        callback_url_check(url=callback_url)
    if throttle_rate:
        try:
            throttle_rate_validator(throttle_rate)
        except DjangoValidationError as exc:
            raise ApplicationError(exc.messages[0], code="throttle_rate_invalid",
                                   details={"throttle_rate": exc.messages}) from exc
    key_id, secret = credentials_generate()
    partner = Partner.objects.create(name=name, key_id=key_id, secret_encrypted=secret_encrypt(secret),
                                     callback_url=callback_url, throttle_rate=throttle_rate)
    return Credentials(partner=partner, key_id=key_id, secret=secret)


def partner_key_rotation_overlap() -> timedelta:
    return timedelta(seconds=settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS)


def partner_credentials_rotate(*, partner: Partner, revoke_previous: bool = False,
                               rotated_by_id: int | None = None) -> Credentials:
    """New key id and secret. The replaced ones keep authenticating for the overlap window
    (PARTNER_KEY_ROTATION_OVERLAP_SECONDS, 24 h), so the partner can switch without an
    outage; `revoke_previous` (a leaked secret) ends them at once, as does the next rotation.
    The rotation is a history row of the partner, naming the operator."""
    key_id, secret = credentials_generate()
    now = timezone.now()
    with db_transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        partner.previous_key_id = "" if revoke_previous else partner.key_id
        partner.previous_secret_encrypted = "" if revoke_previous else partner.secret_encrypted
        partner.previous_key_valid_until = None if revoke_previous else now + partner_key_rotation_overlap()
        partner.key_id = key_id
        partner.secret_encrypted = secret_encrypt(secret)
        partner.credentials_rotated_at = now
        partner._change_reason = "Credentials rotated; " + (
            "previous key revoked at once" if revoke_previous else
            f"previous key valid until {partner.previous_key_valid_until:%Y-%m-%d %H:%M:%S} UTC")
        if rotated_by_id is not None:
            partner._history_user = User(pk=rotated_by_id)  # only its id is written
        partner.save(update_fields=["key_id", "secret_encrypted", "credentials_rotated_at", "previous_key_id",
                                    "previous_secret_encrypted", "previous_key_valid_until"])
    return Credentials(partner=partner, key_id=key_id, secret=secret)


def partner_signing_credentials(*, key_id: str, now: datetime | None = None) -> tuple[Partner, str] | None:
    """The partner and the secret that sign for `key_id`: its current key, or the key a
    rotation replaced while its overlap window lasts. None for an unknown or expired key."""
    partner = partner_get_by_key(key_id=key_id)
    if partner is not None:
        return partner, partner_secret(partner=partner)
    partner = partner_get_by_previous_key(key_id=key_id, now=now or timezone.now())
    if partner is not None:
        return partner, secret_decrypt(partner.previous_secret_encrypted)
    return None


def partner_secret(*, partner: Partner) -> str:
    return secret_decrypt(partner.secret_encrypted)


# --- callback URLs -----------------------------------------------------------------------------

class CallbackUrlRefused(ValueError):
    pass


def callback_url_check(*, url: str) -> None:
    """http(s) only; with PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS, the host must not be or
    resolve to a loopback, private, link-local, reserved or multicast address."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CallbackUrlRefused("The callback URL must be an http or https URL.")
    if parts.username or parts.password:
        raise CallbackUrlRefused("The callback URL must not contain credentials.")
    try:
        port = parts.port
    except ValueError as exc:
        raise CallbackUrlRefused("The callback URL's port is out of range.") from exc
    if not settings.PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackUrlRefused("The callback host does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise CallbackUrlRefused("The callback URL points to a private or reserved network.")


# --- customer links ----------------------------------------------------------------------------

def partner_customer_link(*, partner: Partner, customer, created_by_id: int | None = None) -> PartnerCustomerLink:
    """Lets `partner` act for `customer` (staff only: the admin inline or this service).
    Linking twice returns the existing link."""
    link, created = PartnerCustomerLink.objects.get_or_create(partner=partner, customer=customer,
                                                             defaults={"created_by_id": created_by_id})
    if created:
        logger.info("partner %s linked to customer %s by user %s", partner.id, customer.id, created_by_id)
    return link


def partner_customer_unlink(*, partner: Partner, customer, removed_by_id: int | None = None) -> bool:
    """Stops `partner` acting for `customer`. Its past activations stay (and stay
    reversible by it); only new activations are refused. True when a link was removed."""
    deleted, _ = PartnerCustomerLink.objects.filter(partner=partner, customer=customer).delete()
    if deleted:
        logger.info("partner %s unlinked from customer %s by user %s", partner.id, customer.id, removed_by_id)
    return bool(deleted)


# --- partner activation ------------------------------------------------------------------------

class PartnerCustomerUnknown(Exception):
    """The identifier names no customer linked to the partner. Unknown and unlinked are one
    refusal, so a partner cannot learn whether an address is registered."""


REFERENCE_REUSED = "reference_reused"


def partner_activation_request(*, partner: Partner, reference: str, customer_identifier: str, offer: Offer,
                               callback_url: str = "") -> Accepted:
    """Accepts an activation for one of the partner's linked customers (else
    PartnerCustomerUnknown, nothing written). `reference` is unique per partner for ever:
    it is the engine's idempotency key in the partner's scope, retained (never pruned), so
    the same reference and body return the original transaction, another body is 422
    `reference_reused`, a twin still in flight is 409. It settles exactly like the
    customer's own activation."""
    customer = partner_customer_get(partner=partner, identifier=customer_identifier)
    if customer is None:
        raise PartnerCustomerUnknown(customer_identifier)
    context = {"partner_id": partner.id, "reference": reference, "customer": customer_identifier,
               "callback_url": callback_url}
    try:
        with db_transaction.atomic():
            accepted = offer_activation_request(user_id=customer.id, offer=offer, idempotency_key=reference,
                                                idempotency_scope=f"partner:{partner.id}", idempotency_retained=True,
                                                context=context)
            if not accepted.replayed:
                PartnerActivation.objects.create(partner=partner, reference=reference,
                                                 transaction=accepted.transaction, customer=customer,
                                                 customer_identifier=customer_identifier, offer=offer,
                                                 callback_url=callback_url)
    except IdempotencyKeyReused as exc:
        raise IdempotencyKeyReused("This reference was already used with a different request body.",
                                   code=REFERENCE_REUSED) from exc
    except IntegrityError as exc:
        # Unreachable through the engine: its advisory lock holds twins off until this commit and
        # a retained key is never pruned, so it replays or refuses first. Only a key deleted by
        # hand leaves (partner, reference) taken with no key; nothing was written, and without
        # the original body to compare with, the reference is refused rather than replayed.
        raise IdempotencyKeyReused("This reference was already used.", code=REFERENCE_REUSED) from exc
    return accepted


def partner_activation_reverse(*, partner: Partner, reference: str) -> PartnerActivation | None:
    """Reverses the transaction behind one of the partner's own references through the
    engine (refund through the ledger; ConflictError when it is not reversible). None when
    the reference is not the partner's. Reversing twice changes nothing the second time."""
    activation = partner_activation_get(partner=partner, reference=reference)
    if activation is None:
        return None
    transaction_reverse(transaction_id=activation.transaction_id, requested_by_partner_id=partner.id)
    activation.transaction.refresh_from_db()
    return activation


# --- callbacks ---------------------------------------------------------------------------------

def callback_event_payload(*, delivery_id: UUID, event_type: str, activation: PartnerActivation,
                           txn: Transaction) -> dict:
    return {
        "event_id": str(delivery_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": {
            "reference": activation.reference,
            "transaction_id": str(txn.id),
            "status": txn.status,
            "is_valid": activation.is_valid,
            "offer_id": activation.offer_id,
            "customer": activation.customer_identifier,
            "amount": str(txn.amount) if txn.amount is not None else None,
            "currency": txn.currency,
            "failure_code": txn.failure_code,
            "settled_at": txn.settled_at.isoformat() if txn.settled_at else None,
        },
    }


def partner_callback_schedule(*, transaction: Transaction) -> CallbackDelivery | None:
    """Receiver of `transaction_finished` (after commit): records the event once per
    transaction and status, then enqueues its delivery on the callbacks queue."""
    if not transaction.is_terminal or partner_reference_of(transaction) is None:
        return None
    activation = (PartnerActivation.objects.select_related("partner")
                  .filter(transaction_id=transaction.id).first())
    if activation is None:
        return None
    activation.transaction = transaction  # the finished row the event reports
    url = activation.callback_url or activation.partner.callback_url
    if not url:
        return None
    event_type = f"transaction.{transaction.status.lower()}"
    existing = CallbackDelivery.objects.filter(transaction_id=transaction.id, event_type=event_type).first()
    if existing is not None:
        return existing
    delivery_id = uuid.uuid4()
    try:
        with db_transaction.atomic():
            delivery = CallbackDelivery.objects.create(
                id=delivery_id, partner=activation.partner, transaction=transaction, event_type=event_type, url=url,
                request_id=transaction.request_id,
                retry_until=timezone.now() + timedelta(seconds=settings.PARTNER_CALLBACK_RETRY_WINDOW_SECONDS),
                payload=callback_event_payload(delivery_id=delivery_id, event_type=event_type,
                                               activation=activation, txn=transaction))
    except IntegrityError:  # announced twice (e.g. a signal resent): one event only
        return CallbackDelivery.objects.get(transaction_id=transaction.id, event_type=event_type)
    db_transaction.on_commit(lambda: callback_outbox.enqueue(delivery.id), robust=True)
    return delivery


def _is_retryable_status(status_code: int) -> bool:
    return status_code >= 500 or status_code in {408, 429}


@dataclass(frozen=True)
class CallbackAttemptResult:
    status_code: int | None
    error: str
    duration_ms: int


class CallbackOutbox(Outbox[CallbackDelivery]):
    """Partner callbacks: a delivery is leased for the longest a POST can take, posted
    signed, and retried (5xx, 408, 429, network errors) until its retry window closes."""

    model = CallbackDelivery
    task_name = "partners.tasks.partner_callback_deliver_task"
    backoff_base_setting = "PARTNER_CALLBACK_BACKOFF_BASE_SECONDS"
    backoff_cap_setting = "PARTNER_CALLBACK_BACKOFF_MAX_SECONDS"

    def claim(self, pk: UUID) -> Claim[CallbackDelivery]:
        """A short lease on the delivery row (one short commit)."""
        now = timezone.now()
        lease = timedelta(seconds=settings.PARTNER_CALLBACK_CONNECT_TIMEOUT_SECONDS
                          + settings.PARTNER_CALLBACK_READ_TIMEOUT_SECONDS + 10)
        with db_transaction.atomic():
            delivery = (callback_delivery_for_update(skip_locked=True).select_related("partner").filter(pk=pk).first())
            if delivery is None:  # gone, or another worker is recording an attempt right now
                return Claim(row=CallbackDelivery.objects.get(pk=pk), claimed=False)
            if (delivery.status != CallbackDelivery.Status.PENDING
                    or (delivery.leased_until and delivery.leased_until > now)
                    or delivery.next_attempt_at > now + timedelta(seconds=1)):
                return Claim(row=delivery, claimed=False)  # done, in flight elsewhere, or an early duplicate
            delivery.leased_until = now + lease
            delivery.save(update_fields=["leased_until", "updated_at"])
        return Claim(row=delivery, claimed=True)

    def attempt(self, delivery: CallbackDelivery) -> CallbackAttemptResult:
        status_code, error, started = None, "", time.monotonic()
        try:
            callback_url_check(url=delivery.url)
            response = _callback_post(delivery)
            status_code = response.status_code
        except CallbackUrlRefused as exc:
            error = f"refused: {exc}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
        return CallbackAttemptResult(status_code=status_code, error=error,
                                     duration_ms=int((time.monotonic() - started) * 1000))

    def record(self, delivery: CallbackDelivery, attempt: CallbackAttemptResult) -> Delivery[CallbackDelivery]:
        status_code, error = attempt.status_code, attempt.error
        now = timezone.now()
        retry_in = None
        with db_transaction.atomic():
            delivery = callback_delivery_for_update().select_related("partner").get(pk=delivery.pk)
            CallbackAttempt.objects.create(delivery=delivery, attempted_at=now, status_code=status_code,
                                           error=error[:255], duration_ms=attempt.duration_ms)
            delivery.attempts_count += 1
            delivery.leased_until = None
            if status_code is not None and 200 <= status_code < 300:
                delivery.status = CallbackDelivery.Status.DELIVERED
                delivery.delivered_at = now
                delivery.last_error = ""
            else:
                delivery.last_error = (error or f"HTTP {status_code}")[:255]
                retryable = (status_code is None and not error.startswith("refused")) or (
                    status_code is not None and _is_retryable_status(status_code))
                delay = self.backoff_seconds(attempts=delivery.attempts_count)
                if retryable and now + timedelta(seconds=delay) <= delivery.retry_until:
                    delivery.next_attempt_at = now + timedelta(seconds=delay)
                    retry_in = delay
                else:
                    delivery.status = CallbackDelivery.Status.FAILED
            delivery.save(update_fields=["attempts_count", "leased_until", "status", "delivered_at", "last_error",
                                         "next_attempt_at", "updated_at"])
        _callback_attempt_log(delivery, attempt)
        return Delivery(row=delivery, retry_in=retry_in)

    def due(self, *, now: datetime, before: datetime) -> QuerySet:
        return CallbackDelivery.objects.filter(status=CallbackDelivery.Status.PENDING, next_attempt_at__lte=before)


callback_outbox = CallbackOutbox()


def _callback_attempt_log(delivery: CallbackDelivery, attempt: CallbackAttemptResult) -> None:
    context = {"delivery_id": str(delivery.id), "transaction_id": str(delivery.transaction_id),
               "partner_id": delivery.partner_id, "event_type": delivery.event_type,
               "http_status": attempt.status_code, "duration_ms": attempt.duration_ms,
               "delivery_status": delivery.status}
    if delivery.request_id:
        context["request_id"] = delivery.request_id
    if attempt.error or delivery.status != CallbackDelivery.Status.DELIVERED:
        logger.warning("partner callback attempt %s failed: %s", delivery.attempts_count,
                       attempt.error or f"HTTP {attempt.status_code}", extra=context)
    else:
        logger.info("partner callback delivered", extra=context)


def callback_deliver(*, delivery_id: UUID) -> Delivery[CallbackDelivery]:
    """One delivery attempt: lease, post outside any transaction, record (kernel.outbox)."""
    return callback_outbox.deliver(delivery_id)


def _callback_post(delivery: CallbackDelivery) -> requests.Response:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    parts = urlsplit(delivery.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timestamp = str(int(time.time()))
    signature = signature_compute(secret=partner_secret(partner=delivery.partner), method="POST", path=path,
                                  timestamp=timestamp, body=body)
    headers = {"Content-Type": "application/json", HEADER_KEY: delivery.partner.key_id,
               HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: signature, HEADER_EVENT_ID: str(delivery.id),
               "User-Agent": "offers-platform-callbacks/1"}
    if delivery.request_id:
        headers[REQUEST_ID_HEADER] = delivery.request_id
    return requests.post(delivery.url, data=body, headers=headers, allow_redirects=False,
                         timeout=(settings.PARTNER_CALLBACK_CONNECT_TIMEOUT_SECONDS,
                                  settings.PARTNER_CALLBACK_READ_TIMEOUT_SECONDS))


def callback_redeliver(*, delivery: CallbackDelivery) -> CallbackDelivery:
    """Operator action: deliver the same event (same event id) again, now."""
    with db_transaction.atomic():
        delivery = callback_delivery_for_update().get(pk=delivery.pk)
        delivery.status = CallbackDelivery.Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.leased_until = None
        delivery.retry_until = timezone.now() + timedelta(seconds=settings.PARTNER_CALLBACK_RETRY_WINDOW_SECONDS)
        delivery.save(update_fields=["status", "next_attempt_at", "leased_until", "retry_until", "updated_at"])
        db_transaction.on_commit(lambda: callback_outbox.enqueue(delivery.id), robust=True)
    return delivery


def partner_callbacks_sweep(*, overdue_after: timedelta | None = None, limit: int = 1000) -> int:
    """Re-enqueues pending deliveries whose next attempt is overdue by DELIVERY_SWEEP_OVERDUE_SECONDS
    (lost message, killed worker, broker outage at enqueue time). A duplicate message posts
    nothing twice: delivery takes a lease first."""
    if overdue_after is None:
        overdue_after = timedelta(seconds=settings.DELIVERY_SWEEP_OVERDUE_SECONDS)
    return callback_outbox.sweep(overdue_after=overdue_after, limit=limit)
