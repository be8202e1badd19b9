"""The dependency checks of /ready/, also exported as offers_dependency_up."""
import redis
from django.db import connection


def database_check() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means not ready
        return repr(exc)
    return None


def redis_check(url: str) -> str | None:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        return repr(exc)
    finally:
        client.close()
    return None
