"""ASGI entry point. We serve over ASGI (gunicorn + uvicorn workers) so that a long-poll
on a transaction status waits on a Redis pub/sub message inside the event loop instead of
holding a worker thread per waiting client."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Under ASGI a persistent connection is not reused by the next request, so the web server
# uses a connection pool (config.settings.base.database_pool_enable). Celery workers keep
# CONN_MAX_AGE: one thread per prefork process reuses its connection as it is.
os.environ.setdefault("DB_POOL", "1")
django_application = get_asgi_application()

from kernel.body_limit import BodySizeLimit  # noqa: E402  (needs the settings loaded above)

application = BodySizeLimit(django_application)
