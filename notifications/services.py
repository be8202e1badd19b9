"""Every write of notifications: create (rendered, deduplicated), deliver email with
retries, mark read; and the receivers that turn domain events into notifications."""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction as db_transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from kernel.outbox import Claim, Delivery, Outbox
from notifications.models import Notification
from notifications.reasons import failure_reason

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something one customer is told about: `key` names the event (with the user id it
    makes the dedupe key), `facts` are the values the templates show."""

    user_id: int
    key: str
    facts: dict
    request_id: str = ""  # of the request that caused it, when one did


def notification_dedupe_key(*, event: Event, kind: str, channel: str) -> str:
    return f"{event.key}:u{event.user_id}:{kind}:{channel}"


def _recipients(user_ids) -> dict[int, dict]:
    rows = get_user_model().objects.filter(pk__in=list(user_ids), is_active=True).values(
        "pk", "username", "first_name", "email", "profile__timezone", "profile__email_opt_out")
    return {row["pk"]: row for row in rows}


def _local_time(value: str, tz_name: str) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return value
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except Exception:  # an unknown zone name on an old profile: show UTC
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%d %b %Y, %H:%M %Z")


def notification_render(*, kind: str, context: dict) -> tuple[str, str, str]:
    subject = render_to_string(f"notifications/{kind}_subject.txt", context).strip().splitlines()[0]
    body = render_to_string(f"notifications/{kind}.txt", context).strip() + "\n"
    html = render_to_string(f"notifications/{kind}.html", context)
    return subject, body, html


def notifications_send(*, kind: str, events: list[Event]) -> int:
    """Renders and stores an in-app notification and (unless the customer opted out or has
    no address) an email per event; enqueues the emails after commit. Events already told
    are skipped (dedupe keys), so a re-run or a redelivered message sends nothing twice.
    Returns the number of notifications created."""
    if not events:
        return 0
    candidate_keys = [notification_dedupe_key(event=e, kind=kind, channel=Notification.Channel.IN_APP) for e in events]
    told = set(Notification.objects.filter(dedupe_key__in=candidate_keys).values_list("dedupe_key", flat=True))
    events = [e for e, key in zip(events, candidate_keys) if key not in told]
    recipients = _recipients({e.user_id for e in events})
    now = timezone.now()
    rows, email_keys = [], []
    for event in events:
        recipient = recipients.get(event.user_id)
        if recipient is None:
            continue
        tz_name = recipient["profile__timezone"] or "UTC"
        local = {f"{k}_local": _local_time(v, tz_name) for k, v in event.facts.items() if k.endswith("_at") and v}
        context = {**event.facts, **local, "name": recipient["first_name"] or recipient["username"],
                   "reason": failure_reason(event.facts.get("failure_code", ""))}
        subject, body, html = notification_render(kind=kind, context=context)
        common = dict(user_id=event.user_id, kind=kind, subject=subject[:200], body=body, data=event.facts,
                      request_id=event.request_id, created_at=now)
        rows.append(Notification(channel=Notification.Channel.IN_APP, status=Notification.Status.SENT, sent_at=now,
                                 dedupe_key=notification_dedupe_key(event=event, kind=kind,
                                                                    channel=Notification.Channel.IN_APP), **common))
        if recipient["email"] and not recipient["profile__email_opt_out"]:
            key = notification_dedupe_key(event=event, kind=kind, channel=Notification.Channel.EMAIL)
            email_keys.append(key)
            rows.append(Notification(channel=Notification.Channel.EMAIL, body_html=html, dedupe_key=key,
                                     next_attempt_at=now, **common))
    with db_transaction.atomic():
        created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
        email_ids = list(Notification.objects.filter(dedupe_key__in=email_keys, status=Notification.Status.QUEUED,
                                                     attempts=0).values_list("pk", flat=True))
        db_transaction.on_commit(lambda: [email_outbox.enqueue(i) for i in email_ids], robust=True)
    return len(created)


# --- email delivery ---------------------------------------------------------------------------

def smtp_error_is_transient(exc: BaseException) -> bool:
    """Connection trouble and 4xx replies are worth retrying; 5xx replies are final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPException, OSError))  # refused, reset, timeout, disconnected


@dataclass(frozen=True)
class EmailAttemptResult:
    error: str
    transient: bool


class EmailOutbox(Outbox[Notification]):
    """Emails: claimed with one conditional UPDATE (queued, due, not leased; the attempt
    counted at the claim), sent by SMTP, retried on transient errors up to
    NOTIFICATION_MAX_ATTEMPTS."""

    model = Notification
    task_name = "notifications.tasks.notification_deliver_task"
    backoff_base_setting = "NOTIFICATION_BACKOFF_BASE_SECONDS"
    backoff_cap_setting = "NOTIFICATION_BACKOFF_MAX_SECONDS"

    def claim(self, pk: int) -> Claim[Notification]:
        now = timezone.now()
        lease = timedelta(seconds=settings.EMAIL_TIMEOUT * 3 + 30)
        claimed = (Notification.objects
                   .filter(pk=pk, channel=Notification.Channel.EMAIL, status=Notification.Status.QUEUED,
                           next_attempt_at__lte=now + timedelta(milliseconds=50))
                   .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
                   .update(leased_until=now + lease, attempts=F("attempts") + 1))
        notification = Notification.objects.select_related("user").get(pk=pk)
        if not claimed:  # done, in flight elsewhere, or early: an early message comes back when it is due
            early = (notification.status == Notification.Status.QUEUED and notification.next_attempt_at > now
                     and not (notification.leased_until and notification.leased_until > now))
            return Claim(row=notification, claimed=False,
                         retry_in=(notification.next_attempt_at - now).total_seconds() if early else None)
        return Claim(row=notification, claimed=True)

    def attempt(self, notification: Notification) -> EmailAttemptResult:
        try:
            message = EmailMultiAlternatives(subject=notification.subject, body=notification.body,
                                             from_email=settings.DEFAULT_FROM_EMAIL, to=[notification.user.email])
            if notification.body_html:
                message.attach_alternative(notification.body_html, "text/html")
            message.send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as exc:  # anything else is a bug: the lease lapses, the sweeper retries
            return EmailAttemptResult(error=f"{type(exc).__name__}: {exc}"[:500],
                                      transient=smtp_error_is_transient(exc))
        return EmailAttemptResult(error="", transient=False)

    def record(self, notification: Notification, attempt: EmailAttemptResult) -> Delivery[Notification]:
        error, transient = attempt.error, attempt.transient
        now = timezone.now()
        fields: dict = {"leased_until": None, "last_error": error}
        retry_in = None
        if not error:
            fields.update(status=Notification.Status.SENT, sent_at=now)
        elif transient and notification.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
            retry_in = self.backoff_seconds(attempts=notification.attempts)
            fields.update(next_attempt_at=now + timedelta(seconds=retry_in))
        else:
            fields.update(status=Notification.Status.FAILED)
            if error and transient:
                fields["last_error"] = f"gave up after {notification.attempts} attempts: {error}"[:500]
        Notification.objects.filter(pk=notification.pk).update(**fields)
        notification.refresh_from_db()
        context = _notification_log_context(notification)
        if error:
            logger.warning("email attempt %s failed: %s", notification.attempts, error, extra=context)
        else:
            logger.info("email sent", extra=context)
        return Delivery(row=notification, retry_in=retry_in)

    def due(self, *, now: datetime, before: datetime) -> QuerySet:
        return (Notification.objects.filter(channel=Notification.Channel.EMAIL, status=Notification.Status.QUEUED,
                                            next_attempt_at__lte=before)
                .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now)))


email_outbox = EmailOutbox()


def _notification_log_context(notification: Notification) -> dict:
    context = {"notification_id": notification.pk, "notification_kind": notification.kind}
    if notification.data.get("transaction_id"):
        context["transaction_id"] = notification.data["transaction_id"]
    if notification.request_id:
        context["request_id"] = notification.request_id
    return context


def notification_deliver(*, notification_id: int) -> Delivery[Notification]:
    """One attempt (kernel.outbox): a duplicate message or a second run finds nothing to
    claim and sends nothing; an early one comes back when it is due."""
    return email_outbox.deliver(notification_id)


def notifications_sweep(*, stale_after_seconds: float | None = None, limit: int = 1000) -> int:
    """Beat: re-enqueues due emails whose message was lost (broker down, worker killed), once
    overdue by DELIVERY_SWEEP_OVERDUE_SECONDS (a duplicate message sends nothing: delivery
    takes a lease first)."""
    if stale_after_seconds is None:
        stale_after_seconds = settings.DELIVERY_SWEEP_OVERDUE_SECONDS
    return email_outbox.sweep(overdue_after=timedelta(seconds=stale_after_seconds), limit=limit)


# --- inbox ------------------------------------------------------------------------------------

def notification_mark_read(*, user_id: int, notification_id: int) -> Notification:
    from notifications.selectors import notification_inbox

    notification = notification_inbox(user_id=user_id).get(pk=notification_id)  # DoesNotExist → 404
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user_id: int) -> int:
    from notifications.selectors import notification_inbox

    return notification_inbox(user_id=user_id).filter(read_at__isnull=True).update(read_at=timezone.now())
