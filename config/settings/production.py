"""Production: refuses to start with a default secret or DEBUG on."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DEFAULT_SECRET_KEY, DEBUG, METRICS_TOKEN, SECRET_KEY, SIMPLE_JWT, env_bool, env_int, env_str

if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be set to a unique value of at least 32 characters in production.")
if SIMPLE_JWT["SIGNING_KEY"] == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must not be the default secret in production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
if len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN (at least 16 characters) must be set in production: /metrics is "
                               "protected by it.")

ALLOW_DEMO_DATA = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^ready/$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Partner callbacks must not reach the internal network (SSRF); see README "Partners".
PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS = env_bool("PARTNER_CALLBACK_BLOCK_PRIVATE_NETWORKS", True)

# Production sends email through SMTP (EMAIL_HOST, EMAIL_PORT, ... from the environment).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
