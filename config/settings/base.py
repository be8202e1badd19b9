"""Settings for every environment, read from the process environment.

Local defaults work out of the box (`make run` / `make test` export the URLs of the
PostgreSQL and Redis they start). `config.settings.production` tightens them and refuses
to start with a default secret.
"""
from datetime import timedelta
from pathlib import Path
import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from kernel.log_format import SERVER_LOGGERS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEFAULT_SECRET_KEY = "local-only-insecure-secret-key-change-me-0123456789abcdef"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
ALLOW_DEMO_DATA = True  # production turns this off: seed_demo refuses to run there

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_yasg",
    "django_celery_beat",
    "django_prometheus",
    "simple_history",
    "accounts",
    "activation",
    "offers",
    "partners",
    "notifications",
    "monitoring",
]

MIDDLEWARE = [
    # First: every response, including those written by the middleware below, leaves with its X-Request-ID.
    "kernel.request_id.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # before CommonMiddleware, as django-cors-headers asks
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kernel.trailing_slash.ApiTrailingSlashMiddleware",  # before CommonMiddleware: no APPEND_SLASH redirect
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Exposes the request to the history: DRF sets request.user (JWT) on it when the view authenticates.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- PostgreSQL -----------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/offers")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,  # a restarted PostgreSQL is noticed, not served as a 500
    )
}
DATABASES["default"]["ENGINE"] = "kernel.db_backend"  # django_prometheus's PostgreSQL backend, metered for less
# psycopg reads a connect timeout under 2 s as 2 s. A stopped server refuses at once anyway; this
# bounds an unanswered attempt (workers connect directly; the web's pool connects in the background).
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 2)
# Django turns psycopg's statement preparation off. Its own cursors bind on the client and never
# prepare anyway; this lets the hot-path statements of kernel.prepared_sql be prepared.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 0


def database_pool_enable(databases: dict) -> None:
    """A psycopg connection pool per process. Under ASGI a persistent connection
    (CONN_MAX_AGE) is not reused by the next request (each request runs in a new async
    context), so without a pool every request pays a new PostgreSQL backend and idle ones
    pile up to max_connections under load. See docs/PERFORMANCE.md.

    With the pool comes the database circuit (kernel/db_backend/circuit.py): after a failed
    connection attempt requests fail at once (503) while one thread probes PostgreSQL every
    DB_CIRCUIT_PROBE_SECONDS. Web processes only; the module says why not workers."""
    default = databases["default"]
    default["CONN_MAX_AGE"] = 0  # Django refuses persistent connections together with a pool
    # timeout: the longest a request waits for a free connection under load before its 503.
    default["OPTIONS"]["pool"] = {"min_size": env_int("DB_POOL_MIN_SIZE", 1),
                                  "max_size": env_int("DB_POOL_MAX_SIZE", 8),
                                  "timeout": float(env_str("DB_POOL_TIMEOUT", "2"))}
    # check_seconds: the deadline of the pooled connection's check (kernel/db_backend/watchdog.py).
    default["OPTIONS"]["circuit"] = {"probe_seconds": float(env_str("DB_CIRCUIT_PROBE_SECONDS", "0.5")),
                                     "check_seconds": float(env_str("DB_CHECK_DEADLINE_SECONDS", "1"))}


if env_bool("DB_POOL", False):  # set by config/asgi.py for the web server
    database_pool_enable(DATABASES)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker (db 0) and cache / status store / throttling (db 1) ---------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:63799").rstrip("/")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"{REDIS_URL}/0")
CACHE_REDIS_URL = env_str("CACHE_REDIS_URL", f"{REDIS_URL}/1")
REDIS_SOCKET_TIMEOUT = float(env_str("REDIS_SOCKET_TIMEOUT", "2"))
# No client-side retries with backoff: when Redis is down a request must fail over at once
# (throttles fail open, statuses fall back to PostgreSQL, the sweeper enqueues later).
REDIS_NO_RETRY = Retry(NoBackoff(), 0)
# Every key this service writes in the Redis store starts with this (kernel.redis_store.redis_key).
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "offers:")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": "offers",
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "retry": REDIS_NO_RETRY,
        },
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".run" / "static"

# --- Request limits: bad input gets a 4xx, never a 500 -------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# --- Security headers (production adds HSTS and secure cookies) ----------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- CORS: closed by default; a browser front end on another origin is listed explicitly ---
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # the API authenticates with Bearer tokens, never cookies
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "idempotency-key", "x-request-id")
CORS_EXPOSE_HEADERS = ("Retry-After", "X-Request-ID")

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kernel.jwt_auth.RememberingJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kernel.api.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "kernel.api.StandardPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "kernel.errors.api_exception_handler",
    # DRF's anon, user and scoped throttles, counted together by one Redis call
    "DEFAULT_THROTTLE_CLASSES": ["kernel.throttles.RequestRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "120/min"),
        "user": env_str("THROTTLE_USER", "1200/min"),
        "login": env_str("THROTTLE_LOGIN", "10/min"),
        "register": env_str("THROTTLE_REGISTER", "5/min"),  # per client address (accounts RegisterApi)
        "transactions": env_str("THROTTLE_TRANSACTIONS", "600/min"),
    },
    # The client address is resolved once, by the web server from FORWARDED_ALLOW_IPS
    # (config/gunicorn.conf.py); X-Forwarded-For read again here would be the client's to forge.
    "NUM_PROXIES": 0,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 8)
if "NUM_PROXIES" in os.environ:  # a deployment relying on it must learn it has no effect
    raise ImproperlyConfigured("NUM_PROXIES is gone: list the proxies in front in FORWARDED_ALLOW_IPS "
                               "(config/gunicorn.conf.py), which resolves the client address once.")

# How long a process trusts the user row behind an access token before reading it again; a
# user saved in the process is read again at once (kernel/jwt_auth.py). 0: read on every request.
JWT_USER_CACHE_SECONDS = env_int("JWT_USER_CACHE_SECONDS", 5)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SWAGGER_SETTINGS = {
    "SECURITY_DEFINITIONS": {
        "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header",
                   "description": "`Bearer <access token>` from /api/v1/auth/login/"},
    },
    "USE_SESSION_AUTH": False,
    "DEFAULT_AUTO_SCHEMA_CLASS": "kernel.openapi.ErrorAwareAutoSchema",
}

# --- Celery --------------------------------------------------------------------------------
CELERY_RESULT_BACKEND = None  # statuses live in PostgreSQL + the Redis status store
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
# Celery's Django fixup closes the database connection before and after *every* task unless
# this is set, so each task would pay a new PostgreSQL backend (~3-5 ms, most of a settlement
# task's latency; docs/PERFORMANCE.md#worker-connections-kept). Workers keep their connection
# instead; config/celery.py closes it the way Django does between requests (CONN_MAX_AGE
# reached, or unusable after an error).
CELERY_DB_REUSE_MAX = 1_000_000
# A task that retries on connection errors trusts a connection that answered this recently
# and skips Django's per-task health check (config/celery.py). 0: always check.
DB_HEALTH_CHECK_TRUSTED_MS = env_int("DB_HEALTH_CHECK_TRUSTED_MS", 1000)
# Web and worker processes freeze their startup objects out of the garbage collector's
# full passes (config/gc_freeze.py). 0: leave the collector as CPython sets it.
GC_FREEZE_AT_STARTUP = env_bool("GC_FREEZE_AT_STARTUP", True)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 100)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "activation.tasks.transaction_settle_task": {"queue": "settlement"},
    "activation.tasks.transactions_sweep_task": {"queue": "settlement"},
    "activation.tasks.finished_outbox_drain_task": {"queue": "notifications"},
    "bench.tasks.settlement_ping_task": {"queue": "settlement"},
    "notifications.tasks.*": {"queue": "notifications"},
    "partners.tasks.*": {"queue": "callbacks"},
    # Holds free stock, so their expiry runs with settlement; start notices never delay it.
    "offers.flash.tasks.flash_promo_holds_expire_task": {"queue": "settlement"},
    "offers.flash.tasks.flash_reservations_expire_lapsed_task": {"queue": "settlement"},
    "offers.flash.tasks.flash_promo_start_fanout_task": {"queue": "notifications"},
    "offers.flash.tasks.flash_promo_start_fanout_chunk_task": {"queue": "notifications"},
    "offers.flash.tasks.flash_promos_start_due_task": {"queue": "notifications"},
    "offers.codes.tasks.*": {"queue": "default"},
}
# Longer than any countdown/ETA we schedule, so Redis never re-delivers a message early.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker whose broker went away retries every second for as long as it takes (kombu's own
# schedule backs off to 30 s, and gives up after 100 tries), so it consumes again, and sends
# the recovery sweeps, within a second of the broker's return (config.celery).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "config.celery:PromptReconnectConsumer"
# A request must not hang when the broker is down: the transaction is durable in PostgreSQL
# and the sweeper enqueues it once Redis is back.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
# Celery task events (received/started/succeeded, one broker PUBLISH each) feed tools such
# as Flower; the platform's own metrics come from in-process signals (monitoring/receivers.py),
# so they are off unless asked for: they cost the worker ~7 % of its CPU per task.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", False)
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- The transaction engine ----------------------------------------------------------------
SETTLEMENT_BATCH_SIZE = env_int("SETTLEMENT_BATCH_SIZE", 500)
SETTLEMENT_DRAIN_SECONDS = env_int("SETTLEMENT_DRAIN_SECONDS", 5)  # one message's share before it hands over
SETTLEMENT_WANTED_TTL_MS = env_int("SETTLEMENT_WANTED_TTL_MS", 2000)  # see activation.services.dispatch
# Outcomes wait in the settlement outbox (PostgreSQL) for their side effects: a drain message
# is published at most once per NOTIFY_DRAIN_DELAY_MS and carries them all
# (activation.services.outbox).
NOTIFY_DRAIN_DELAY_MS = env_int("NOTIFY_DRAIN_DELAY_MS", 500)
NOTIFY_DRAIN_WANTED_TTL_MS = env_int("NOTIFY_DRAIN_WANTED_TTL_MS", 5_000)  # a lost drain message delays them this long
NOTIFY_DRAIN_BATCH_SIZE = env_int("NOTIFY_DRAIN_BATCH_SIZE", 200)
OFFER_CACHE_SECONDS = float(env_str("OFFER_CACHE_SECONDS", "2"))  # offers.selectors.offer_quote; 0 turns it off
SETTLEMENT_MAX_ATTEMPTS = env_int("SETTLEMENT_MAX_ATTEMPTS", 5)
# The sweep that sends again what a fault left behind (activation.services.housekeeping). It
# is cheap when there is nothing to do (indexed reads of unfinished rows) and never re-sends
# a row a live settlement holds, so it runs every few seconds; a reconnected worker runs it
# at once (config.celery).
SWEEPER_INTERVAL_SECONDS = env_int("SWEEPER_INTERVAL_SECONDS", 2)
SWEEPER_STALE_AFTER_SECONDS = env_int("SWEEPER_STALE_AFTER_SECONDS", 2)
TRANSACTION_STATUS_TTL_SECONDS = env_int("TRANSACTION_STATUS_TTL_SECONDS", 24 * 3600)
IDEMPOTENCY_KEY_RETENTION_HOURS = env_int("IDEMPOTENCY_KEY_RETENTION_HOURS", 48)
LONG_POLL_MAX_SECONDS = 30

# --- Partners -------------------------------------------------------------------------------
# Partner secrets are stored encrypted (Fernet) with a key derived from this value; changing
# it makes every stored partner secret unreadable, so rotate partner credentials after.
PARTNER_SECRET_ENCRYPTION_KEY = env_str("PARTNER_SECRET_ENCRYPTION_KEY", SECRET_KEY)
PARTNER_SIGNATURE_MAX_SKEW_SECONDS = env_int("PARTNER_SIGNATURE_MAX_SKEW_SECONDS", 300)
PARTNER_DEFAULT_THROTTLE_RATE = env_str("PARTNER_DEFAULT_THROTTLE_RATE", "600/min")
# A rotated-out partner key still authenticates this long (partners.services.partner_credentials_rotate).
PARTNER_KEY_ROTATION_OVERLAP_SECONDS = env_int("PARTNER_KEY_ROTATION_OVERLAP_SECONDS", 24 * 3600)
# Callbacks: exponential backoff with jitter, capped below the broker's visibility timeout.
PARTNER_CALLBACK_CONNECT_TIMEOUT_SECONDS = float(env_str("PARTNER_CALLBACK_CONNECT_TIMEOUT_SECONDS", "3"))
PARTNER_CALLBACK_READ_TIMEOUT_SECONDS = float(env_str("PARTNER_CALLBACK_READ_TIMEOUT_SECONDS", "10"))
PARTNER_CALLBACK_BACKOFF_BASE_SECONDS = float(env_str("PARTNER_CALLBACK_BACKOFF_BASE_SECONDS", "10"))
PARTNER_CALLBACK_BACKOFF_MAX_SECONDS = float(env_str("PARTNER_CALLBACK_BACKOFF_MAX_SECONDS", "1800"))
PARTNER_CALLBACK_RETRY_WINDOW_SECONDS = env_int("PARTNER_CALLBACK_RETRY_WINDOW_SECONDS", 24 * 3600)
# Refuse callback URLs that are (or resolve to) loopback, private, link-local or reserved
# addresses. Off locally so tests can call back to 127.0.0.1; production turns it on.
PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS = env_bool("PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS", False)
# Emails and partner callbacks whose message was lost (killed worker, broker outage) are sent
# again by beat once this overdue. Longer than the transaction sweep's: a delivery queue
# backed up behind a 10,000-customer fan-out must not be flooded with duplicates (each is
# harmless, a lease is taken first, but each costs a message).
DELIVERY_SWEEP_INTERVAL_SECONDS = env_int("DELIVERY_SWEEP_INTERVAL_SECONDS", 10)
DELIVERY_SWEEP_OVERDUE_SECONDS = env_int("DELIVERY_SWEEP_OVERDUE_SECONDS", 30)

# --- Flash promotions ----------------------------------------------------------------------
FLASH_HOLD_SWEEP_SECONDS = env_int("FLASH_HOLD_SWEEP_SECONDS", 15)
FLASH_FANOUT_CHUNK_SIZE = env_int("FLASH_FANOUT_CHUNK_SIZE", 500)

# --- Code pools ----------------------------------------------------------------------------
# POST codes/pools/ generates up to this many codes in the request (201, ready); a larger
# pool answers 202 at once and a worker generates its codes (offers.codes.services).
CODE_POOL_SYNC_MAX = env_int("CODE_POOL_SYNC_MAX", 1000)

# --- Notifications -------------------------------------------------------------------------
# Email through Django's email framework: the console locally, SMTP in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Offers <no-reply@offers.example>")
# Delivery retries: exponential backoff with jitter, then `failed` with the reason.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 6)
NOTIFICATION_BACKOFF_BASE_SECONDS = float(env_str("NOTIFICATION_BACKOFF_BASE_SECONDS", "30"))
NOTIFICATION_BACKOFF_MAX_SECONDS = float(env_str("NOTIFICATION_BACKOFF_MAX_SECONDS", "1800"))
# Auto-renewal is requested this many hours before a subscription ends.
AUTO_RENEW_LEAD_HOURS = env_int("AUTO_RENEW_LEAD_HOURS", 24)

# --- Metrics (monitoring/) ------------------------------------------------------------------
# Empty: /metrics is open (local). Set: `Authorization: Bearer <METRICS_TOKEN>` is required.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
GRAFANA_URL = env_str("GRAFANA_URL", "http://127.0.0.1:3000")  # the admin index links the dashboards there
METRICS_TOP_CAMPAIGNS = env_int("METRICS_TOP_CAMPAIGNS", 10)
WORKER_HEARTBEAT_SECONDS = float(env_str("WORKER_HEARTBEAT_SECONDS", "5"))

# --- Demo / defaults -----------------------------------------------------------------------
DEFAULT_CURRENCY = env_str("DEFAULT_CURRENCY", "EUR")

# One line per record on stderr: JSON (default) or plain text (LOG_FORMAT=plain), with the
# request id and task of its context (kernel/log_format.py). Celery's processes use it too.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# One access line per request, with its request id, written by kernel.request_id's middleware
# (the server's own access log is off: it cannot carry the id). Independent of LOG_LEVEL.
ACCESS_LOG = env_bool("ACCESS_LOG", True)
# Celery's per-task lines (received, succeeded, beat's "sending due task") are left out below
# WARNING: the sweeps run every 2 s and would bury the application's own lines.
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL, extra_loggers={
    **SERVER_LOGGERS, "access": {"level": "INFO" if ACCESS_LOG else "WARNING"},
    "celery.app.trace": {"level": "WARNING"}, "celery.worker.strategy": {"level": "WARNING"},
    "celery.beat": {"level": "WARNING"}})

CELERY_BEAT_SCHEDULE = {
    "transactions-sweep": {
        "task": "activation.tasks.transactions_sweep_task",
        "schedule": float(SWEEPER_INTERVAL_SECONDS),
    },
    "partner-callbacks-sweep": {
        "task": "partners.tasks.partner_callbacks_sweep_task",
        "schedule": float(DELIVERY_SWEEP_INTERVAL_SECONDS),
    },
    "idempotency-keys-prune": {
        "task": "activation.tasks.idempotency_keys_prune_task",
        "schedule": 3600.0,
        "options": {"queue": "settlement"},
    },
    # Safety nets: each hold has its own expiry task and each promo its start task.
    "flash-holds-expire": {
        "task": "offers.flash.tasks.flash_reservations_expire_lapsed_task",
        "schedule": float(FLASH_HOLD_SWEEP_SECONDS),
        "options": {"queue": "settlement"},
    },
    "notifications-sweep": {
        "task": "notifications.tasks.notifications_sweep_task",
        "schedule": float(DELIVERY_SWEEP_INTERVAL_SECONDS),
        "options": {"queue": "notifications"},
    },
    "subscription-reminders": {
        "task": "notifications.tasks.subscription_reminders_send_task",
        "schedule": 900.0,
        "options": {"queue": "notifications"},
    },
    "subscriptions-expire": {
        "task": "offers.tasks.subscriptions_expire_task",
        "schedule": 300.0,
        "options": {"queue": "default"},
    },
    "subscriptions-expired-notify": {
        "task": "notifications.tasks.subscriptions_expired_notify_task",
        "schedule": 300.0,
        "options": {"queue": "notifications"},
    },
    "subscriptions-auto-renew": {
        "task": "offers.tasks.subscriptions_auto_renew_task",
        "schedule": 900.0,
        "options": {"queue": "default"},
    },
    "flash-promo-starts": {
        "task": "offers.flash.tasks.flash_promos_start_due_task",
        "schedule": 30.0,
        "options": {"queue": "notifications"},
    },
    # Safety net: each large pool's generation is sent on creation.
    "code-pools-generation-resume": {
        "task": "offers.codes.tasks.code_pools_generation_resume_task",
        "schedule": 60.0,
        "options": {"queue": "default"},
    },
}
