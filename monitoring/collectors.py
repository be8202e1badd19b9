"""Scrape-time metrics, read from the broker and the database when /metrics is fetched.

Registered only in the web process's /metrics (never in the multiprocess files, so several
web processes report the same value instead of adding up). Every section is guarded: a
dependency that is down or a model that does not exist yet (code pools, flash promos and
partner callbacks come with their own issues) never turns /metrics into a 500; the
section reports zeros and `offers_collector_up{collector=...}` says whether it worked.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import redis
from django.apps import apps
from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone
from kernel.redis_store import redis_key
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

QUEUES = ("settlement", "notifications", "callbacks", "default")
# kombu's Redis transport keeps one list per priority step besides the plain one.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
WORKER_HEARTBEAT_PREFIX = redis_key("monitoring:worker:")

_broker: redis.Redis | None = None


def broker_client() -> redis.Redis:
    global _broker
    if _broker is None:
        _broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
    return _broker


def _model(app_label: str, model_name: str):
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


class PlatformCollector:
    def collect(self):
        up = GaugeMetricFamily("offers_collector_up", "1 if the scrape-time collector section worked.",
                               labels=["collector"])
        for name, section in (("broker", self._broker), ("transactions", self._transactions),
                              ("dependencies", self._dependencies), ("campaigns", self._campaigns),
                              ("code_pools", self._code_pools), ("flash", self._flash),
                              ("callbacks", self._callbacks), ("notifications", self._notifications)):
            families, ok = section()
            up.add_metric([name], 1 if ok else 0)
            yield from families
        yield up

    @staticmethod
    def _guarded(build, fallback):
        try:
            return build(), True
        except Exception as exc:  # a scrape must always answer
            logger.warning("metrics collector failed: %r", exc)
            return fallback(), False

    # --- broker: queue depth and workers alive -----------------------------------------
    def _broker(self):
        def build():
            client = broker_client()
            depth = GaugeMetricFamily("offers_queue_depth", "Messages waiting in a Celery queue (broker LLEN).",
                                      labels=["queue"])
            pipe = client.pipeline()
            for queue in QUEUES:
                pipe.llen(queue)
                for step in _PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
            pipe.hlen("unacked")
            lengths = pipe.execute()
            per_queue = len(_PRIORITY_STEPS) + 1
            for i, queue in enumerate(QUEUES):
                depth.add_metric([queue], sum(lengths[i * per_queue:(i + 1) * per_queue]))
            unacked = GaugeMetricFamily("offers_queue_unacked", "Messages delivered to a worker, not yet acked.",
                                        value=lengths[-1])
            alive = {queue: 0 for queue in QUEUES}
            for key in client.scan_iter(match=f"{WORKER_HEARTBEAT_PREFIX}*", count=100):
                raw = client.get(key)
                if raw is None:
                    continue
                for queue in json.loads(raw).get("queues", []):
                    alive[queue] = alive.get(queue, 0) + 1
            workers = GaugeMetricFamily("offers_workers_alive",
                                        "Celery workers with a fresh heartbeat, per queue they consume.",
                                        labels=["queue"])
            for queue, count in sorted(alive.items()):
                workers.add_metric([queue], count)
            return [depth, unacked, workers]

        def fallback():
            depth = GaugeMetricFamily("offers_queue_depth", "Messages waiting in a Celery queue (broker LLEN).",
                                      labels=["queue"])
            workers = GaugeMetricFamily("offers_workers_alive",
                                        "Celery workers with a fresh heartbeat, per queue they consume.",
                                        labels=["queue"])
            for queue in QUEUES:
                workers.add_metric([queue], 0)  # an unreachable broker means no worker can work
            return [depth, workers]

        return self._guarded(build, fallback)

    # --- transactions: oldest pending, unfinished by status ------------------------------
    def _transactions(self):
        def build():
            from activation.models import Transaction

            unfinished = Transaction.objects.filter(status__in=Transaction.SETTLEABLE)
            oldest = unfinished.aggregate(oldest=Min("created_at"))["oldest"]
            age = GaugeMetricFamily("offers_oldest_pending_transaction_age_seconds",
                                    "Age of the oldest PENDING/PROCESSING transaction (0 when none).",
                                    value=max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0)
            by_status = GaugeMetricFamily("offers_transactions_unfinished", "PENDING/PROCESSING transactions.",
                                          labels=["status"])
            counts = dict(unfinished.values_list("status").annotate(n=Count("id")).order_by())
            for status in sorted(Transaction.SETTLEABLE):
                by_status.add_metric([status], counts.get(status, 0))
            return [age, by_status]

        return self._guarded(build, list)

    # --- readiness, as /ready/ checks it ---------------------------------------------------
    def _dependencies(self):
        def build():
            from monitoring.checks import STATES, readiness

            result = readiness()
            up = GaugeMetricFamily("offers_dependency_up", "1 if the web process reaches the dependency "
                                   "(the checks of /ready/).", labels=["dependency"])
            for name, error in result.errors.items():
                up.add_metric([name], 0 if error else 1)
            state = GaugeMetricFamily("offers_readiness_state", "1 for the state /ready/ answers: ready, degraded "
                                      "(200: Redis or the broker down) or not_ready (503: PostgreSQL down).",
                                      labels=["state"])
            for name in STATES:
                state.add_metric([name], 1 if name == result.state else 0)
            return [up, state]

        return self._guarded(build, list)

    # --- campaigns: budget remaining (top N active by spend), total spent ------------------
    def _campaigns(self):
        def build():
            Campaign = _model("offers", "Campaign")
            remaining = GaugeMetricFamily("offers_campaign_budget_remaining",
                                          "Budget left of the active campaigns that spent the most.",
                                          labels=["campaign_id", "campaign", "currency"])
            spent = GaugeMetricFamily("offers_campaigns_spent_amount",
                                      "Budget spent by all campaigns, per currency (deriv() = spend rate).",
                                      labels=["currency"])
            totals = {settings.DEFAULT_CURRENCY: Decimal("0")}
            if Campaign is not None:
                top = (Campaign.objects.filter(status="active").order_by("-spent_amount", "id")
                       .values_list("id", "name", "currency", "total_budget", "spent_amount")
                       [:settings.METRICS_TOP_CAMPAIGNS])
                for pk, name, currency, budget, spent_amount in top:
                    remaining.add_metric([str(pk), name[:60], currency], float(budget - spent_amount))
                for currency, total in (Campaign.objects.values_list("currency").annotate(total=Sum("spent_amount"))
                                        .order_by()):
                    totals[currency] = total or Decimal("0")
            for currency, total in sorted(totals.items()):
                spent.add_metric([currency], float(total))
            return [remaining, spent]

        return self._guarded(build, list)

    # --- code pools (issue: code pools) ----------------------------------------------------
    def _code_pools(self):
        def build():
            CodePool = _model("offers", "CodePool")
            total = GaugeMetricFamily("offers_code_pools_remaining_codes",
                                      "Codes left to hand out, all pools (0 until code pools exist).")
            per_pool = GaugeMetricFamily("offers_code_pool_remaining",
                                         "Codes left in the pools closest to running out.", labels=["pool_id", "pool"])
            remaining_total = 0
            if CodePool is not None:
                rows = list(CodePool.objects.values_list("id", "name", "total_count", "claimed_count"))
                remaining_total = sum(t - c for _, _, t, c in rows)
                for pk, name, t, c in sorted(rows, key=lambda r: (r[2] - r[3], r[0]))[:settings.METRICS_TOP_CAMPAIGNS]:
                    per_pool.add_metric([str(pk), name[:60]], t - c)
            total.add_metric([], remaining_total)
            return [total, per_pool]

        return self._guarded(build, list)

    # --- flash holds (issue: flash promotions) ---------------------------------------------
    def _flash(self):
        def build():
            Reservation = _model("offers", "FlashReservation")
            holds = CounterMetricFamily("offers_flash_holds", "Flash promo holds by outcome: created, completed, "
                                        "expired (0 until flash promos exist).", labels=["outcome"])
            active = GaugeMetricFamily("offers_flash_holds_active", "Flash promo units held right now.")
            counts = {}
            if Reservation is not None:
                counts = dict(Reservation.objects.values_list("status").annotate(n=Count("id")).order_by())
            holds.add_metric(["created"], sum(counts.values()))
            holds.add_metric(["completed"], counts.get("completed", 0))
            holds.add_metric(["expired"], counts.get("expired", 0))
            active.add_metric([], counts.get("held", 0))
            return [holds, active]

        return self._guarded(build, list)

    # --- partner callbacks (issue: partners) -----------------------------------------------
    def _callbacks(self):
        def build():
            Attempt = _model("partners", "CallbackAttempt")
            Delivery = _model("partners", "CallbackDelivery")
            attempts = CounterMetricFamily("offers_callback_attempts", "Partner callback HTTP attempts by outcome "
                                           "(success = 2xx; 0 until partner callbacks exist).", labels=["outcome"])
            deliveries = GaugeMetricFamily("offers_callback_deliveries", "Partner callbacks by delivery status.",
                                           labels=["status"])
            success = failure = 0
            by_status = {}
            if Attempt is not None:
                all_attempts = Attempt.objects.count()
                success = Attempt.objects.filter(status_code__gte=200, status_code__lt=300).count()
                failure = all_attempts - success
            if Delivery is not None:
                by_status = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")).order_by())
            attempts.add_metric(["success"], success)
            attempts.add_metric(["failure"], failure)
            for status in sorted({"pending", "delivered", "failed", *by_status}):
                deliveries.add_metric([status], by_status.get(status, 0))
            return [attempts, deliveries]

        return self._guarded(build, list)

    # --- notifications (issue: notifications) ----------------------------------------------
    def _notifications(self):
        def build():
            Notification = _model("notifications", "Notification")
            done = CounterMetricFamily("offers_notifications", "Notifications by channel and final outcome "
                                       "(sent, failed; 0 until notifications exist).", labels=["channel", "outcome"])
            queued = GaugeMetricFamily("offers_notifications_queued", "Notifications waiting to be sent.",
                                       labels=["channel"])
            counts = {}
            if Notification is not None and {"channel", "status"} <= {f.name for f in Notification._meta.fields}:
                counts = {(channel, status): n for channel, status, n in Notification.objects
                          .values_list("channel", "status").annotate(n=Count("pk")).order_by()}
            channels = sorted({"email", "in_app", *(channel for channel, _ in counts)})
            for channel in channels:
                for outcome in ("sent", "failed"):
                    done.add_metric([channel, outcome], counts.get((channel, outcome), 0))
                queued.add_metric([channel], counts.get((channel, "queued"), 0))
            return [done, queued]

        return self._guarded(build, list)
