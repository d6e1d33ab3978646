"""Settings for the Aragora billing service, read from the environment (django-environ).

Every variable is documented in `.env.example`. A `.env` file in the project root is read when present.
"""

import logging
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("aragora.settings")

# ------------------------------------------------------------------------------
# GENERAL
# ------------------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("ARAGORA_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()


def _required_secret(name: str, *, min_bytes: int = 0) -> str:
    """Return the secret `name`; in development generate one, in production refuse to start."""
    value = env.str(name, default="")
    if value and len(value.encode()) >= min_bytes:
        return value
    if not DEBUG:
        need = f" of at least {min_bytes} bytes" if min_bytes else ""
        raise ImproperlyConfigured(
            f"{name} must be set{need} when DEBUG is off (generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    logger.warning("%s is not set: generated a random one for this process; tokens and sessions die on restart.", name)
    return secrets.token_urlsafe(48)


SECRET_KEY = _required_secret("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False

INSTALLED_APPS = [
    "aragora_site.apps.SiteConfig",
    "aragora_site.apps.AragoraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djstripe",
    "accounts",
    "billing",
    "usage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "aragora_site.middleware.RequestSizeLimitMiddleware",
    "aragora_site.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aragora_site.urls"
WSGI_APPLICATION = "aragora_site.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aragora_site.context_processors.app_shell",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'aragora.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "aragora_site.sqlite3"  # Django's backend with a cheaper BEGIN (see there)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock at BEGIN,
            # so concurrent writers wait (timeout) instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_aragora.sqlite3")}
    # Opening SQLite runs the PRAGMAs above: keep the connection for the life of the worker.
    DATABASES["default"]["CONN_MAX_AGE"] = None
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # Off by default: a health check is one more round trip on every request. A connection the server dropped
    # then fails one request with 503 database_unavailable (safe to retry) and is replaced for the next.
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("ARAGORA_DB_HEALTH_CHECKS", default=False))
    # Parameters bound by the server, so that psycopg prepares each statement a connection has run
    # `prepare_threshold` times: the hot paths repeat a few statements, and a prepared one skips its parse and
    # plan. Off (client-side binding, Django's default) behind a PgBouncer in transaction mode older than 1.21.
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env.bool(
        "ARAGORA_DB_PREPARED_STATEMENTS", default=True
    ):
        DATABASES["default"]["OPTIONS"] = {
            "server_side_binding": True,
            "prepare_threshold": env.int("ARAGORA_DB_PREPARE_THRESHOLD", default=5),
            **DATABASES["default"].get("OPTIONS", {}),
        }

# ------------------------------------------------------------------------------
# CACHES
# ------------------------------------------------------------------------------
# Revocations and login counters must be visible to every worker: Redis when REDIS_URL is set,
# otherwise a file cache under ARAGORA_DATA_DIR that all worker processes of one host share.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("ARAGORA_CACHE_PREFIX", default="aragora"),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 1_000_000, "CULL_FREQUENCY": 10},
        }
    }

# ------------------------------------------------------------------------------
# AUTH
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
# Links in password-reset e-mails work this long (seconds).
PASSWORD_RESET_TIMEOUT = env.int("ARAGORA_PASSWORD_RESET_SECONDS", default=3600)

ARAGORA_JWT_SECRET = _required_secret("ARAGORA_JWT_SECRET", min_bytes=32)
ARAGORA_JWT_EXPIRY_HOURS = env.int("ARAGORA_JWT_EXPIRY_HOURS", default=24)
ARAGORA_REFRESH_TOKEN_EXPIRY_DAYS = env.int("ARAGORA_REFRESH_TOKEN_EXPIRY_DAYS", default=30)
# Sign-in throttling (accounts.throttling; the README explains the three limits), failures per window:
ARAGORA_LOGIN_WINDOW_MINUTES = env.int("ARAGORA_LOGIN_WINDOW_MINUTES", default=15)
ARAGORA_LOGIN_PAIR_FAILURES = env.int("ARAGORA_LOGIN_PAIR_FAILURES", default=5)  # free, per account and address
ARAGORA_LOGIN_PAIR_DELAY_SECONDS = env.int("ARAGORA_LOGIN_PAIR_DELAY_SECONDS", default=60)  # then doubling
ARAGORA_LOGIN_ACCOUNT_FAILURES = env.int("ARAGORA_LOGIN_ACCOUNT_FAILURES", default=20)
ARAGORA_LOGIN_ADDRESS_FAILURES = env.int("ARAGORA_LOGIN_ADDRESS_FAILURES", default=100)
# Number of reverse proxies in front of the service; 0 means REMOTE_ADDR is the client.
ARAGORA_TRUSTED_PROXY_COUNT = env.int("ARAGORA_TRUSTED_PROXY_COUNT", default=0)
# Invitations to join an organization: how long the e-mailed link works, and the site it points to
# (ARAGORA_PUBLIC_URL + /invitations/accept/<token>).
ARAGORA_INVITATION_DAYS = env.int("ARAGORA_INVITATION_DAYS", default=7)
if not 1 <= ARAGORA_INVITATION_DAYS <= 90:
    raise ImproperlyConfigured("ARAGORA_INVITATION_DAYS must be between 1 and 90.")
ARAGORA_PUBLIC_URL = env.str("ARAGORA_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
if not ARAGORA_PUBLIC_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("ARAGORA_PUBLIC_URL must be an http(s) URL, e.g. https://billing.example.com.")

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": ARAGORA_JWT_SECRET,
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=ARAGORA_JWT_EXPIRY_HOURS),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=ARAGORA_REFRESH_TOKEN_EXPIRY_DAYS),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}

# ------------------------------------------------------------------------------
# DRF
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APIKeyAuthentication",
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["aragora_site.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "aragora_site.schema.AutoSchema",
    "EXCEPTION_HANDLER": "aragora_site.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Aragora billing API",
    "DESCRIPTION": "Accounts, organizations, tokens, API keys, usage metering and billing for Aragora.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package: the docs work offline and under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "aragora_site.api_examples.schema_examples",
    ],
    "ENUM_NAME_OVERRIDES": {
        "Tier": "billing.tiers.SubscriptionTier",
        "PaidTier": "billing.tiers.PAID_TIERS",
        "Role": "accounts.models.Role",
    },
}

# ------------------------------------------------------------------------------
# STRIPE
# ------------------------------------------------------------------------------
# Empty values leave paid tiers unavailable: checkout answers 503 `stripe_not_configured` and
# billing.stripe_client.stripe_config() raises StripeConfigError naming the missing variable.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_PRICE_STARTER = env.str("STRIPE_PRICE_STARTER", default="")
STRIPE_PRICE_PROFESSIONAL = env.str("STRIPE_PRICE_PROFESSIONAL", default="")
STRIPE_PRICE_ENTERPRISE = env.str("STRIPE_PRICE_ENTERPRISE", default="")
# A Stripe-compatible server for tests and demos (e.g. http://127.0.0.1:12111); empty means Stripe itself.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# The API version every request is made with and every webhook endpoint must be set to (dj-stripe 2.11's).
STRIPE_API_VERSION = "2026-05-27.dahlia"
# Seconds a webhook signature stays valid, both into the past and into the future. Never 0.
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
if not 1 <= STRIPE_WEBHOOK_TOLERANCE <= 600:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_TOLERANCE must be between 1 and 600 seconds.")
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_SUBSCRIBER_MODEL = "accounts.Organization"
DJSTRIPE_SUBSCRIBER_CUSTOMER_KEY = "djstripe_subscriber"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
# Test databases only: replaying dj-stripe's 500-step migration history costs about 40 s per test database,
# so tests create its tables with one equivalent migration. Never set where real data lives.
if env.bool("DJSTRIPE_TEST_MIGRATIONS", default=False):
    MIGRATION_MODULES = {"djstripe": "tests.billing.djstripe_schema.migrations"}
# Organizations whose payment failed keep their tier this many days after the first failure.
ARAGORA_PAYMENT_GRACE_DAYS = env.int("ARAGORA_PAYMENT_GRACE_DAYS", default=10)
# The "grace period ending" reminder goes out this many days before the end.
ARAGORA_GRACE_REMINDER_DAYS = env.int("ARAGORA_GRACE_REMINDER_DAYS", default=3)
if ARAGORA_PAYMENT_GRACE_DAYS < 0 or ARAGORA_GRACE_REMINDER_DAYS < 0:
    raise ImproperlyConfigured("ARAGORA_PAYMENT_GRACE_DAYS and ARAGORA_GRACE_REMINDER_DAYS must not be negative.")

# ------------------------------------------------------------------------------
# EMAIL / NOTIFICATIONS
# ------------------------------------------------------------------------------
# E-mail goes out over SMTP only when ARAGORA_SMTP_HOST is set; webhooks only when ARAGORA_NOTIFICATION_WEBHOOK is.
ARAGORA_SMTP_HOST = env.str("ARAGORA_SMTP_HOST", default="")
ARAGORA_SMTP_PORT = env.int("ARAGORA_SMTP_PORT", default=587)
ARAGORA_SMTP_USER = env.str("ARAGORA_SMTP_USER", default="")
ARAGORA_SMTP_PASSWORD = env.str("ARAGORA_SMTP_PASSWORD", default="")
ARAGORA_SMTP_FROM = env.str("ARAGORA_SMTP_FROM", default="billing@aragora.ai")
# STARTTLS (the norm on 587) unless turned off; implicit TLS (465) with ARAGORA_SMTP_USE_SSL.
ARAGORA_SMTP_USE_SSL = env.bool("ARAGORA_SMTP_USE_SSL", default=ARAGORA_SMTP_PORT == 465)
ARAGORA_SMTP_USE_TLS = env.bool("ARAGORA_SMTP_USE_TLS", default=not ARAGORA_SMTP_USE_SSL)
ARAGORA_SMTP_TIMEOUT = env.int("ARAGORA_SMTP_TIMEOUT", default=15)
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = ARAGORA_SMTP_HOST or "localhost"
EMAIL_PORT = ARAGORA_SMTP_PORT
EMAIL_HOST_USER = ARAGORA_SMTP_USER
EMAIL_HOST_PASSWORD = ARAGORA_SMTP_PASSWORD
EMAIL_USE_TLS = ARAGORA_SMTP_USE_TLS and not ARAGORA_SMTP_USE_SSL
EMAIL_USE_SSL = ARAGORA_SMTP_USE_SSL
EMAIL_TIMEOUT = ARAGORA_SMTP_TIMEOUT
DEFAULT_FROM_EMAIL = ARAGORA_SMTP_FROM
SERVER_EMAIL = ARAGORA_SMTP_FROM
ARAGORA_NOTIFICATION_WEBHOOK = env.str("ARAGORA_NOTIFICATION_WEBHOOK", default="")
ARAGORA_NOTIFICATION_WEBHOOK_SECRET = env.str("ARAGORA_NOTIFICATION_WEBHOOK_SECRET", default="")
ARAGORA_NOTIFICATION_TIMEOUT = env.int("ARAGORA_NOTIFICATION_TIMEOUT", default=10)
ARAGORA_NOTIFICATION_MAX_ATTEMPTS = env.int("ARAGORA_NOTIFICATION_MAX_ATTEMPTS", default=8)
if ARAGORA_NOTIFICATION_WEBHOOK:
    if not ARAGORA_NOTIFICATION_WEBHOOK.startswith(("https://", "http://")):
        raise ImproperlyConfigured("ARAGORA_NOTIFICATION_WEBHOOK must be an http(s) URL.")
    if len(ARAGORA_NOTIFICATION_WEBHOOK_SECRET.encode()) < 32:
        raise ImproperlyConfigured(
            "ARAGORA_NOTIFICATION_WEBHOOK_SECRET must be set (at least 32 bytes) when ARAGORA_NOTIFICATION_WEBHOOK is."
        )

# ------------------------------------------------------------------------------
# STATIC, SECURITY
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("ARAGORA_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names need `collectstatic`; the tests use Django's plain storage instead.
    "staticfiles": {
        "BACKEND": env.str(
            "ARAGORA_STATICFILES_STORAGE", default="whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Served over TLS (the default unless DEBUG): cookies only over HTTPS, and a year of HSTS on HTTPS responses.
# scripts/serve.sh turns it off, because it serves plain HTTP on the loopback interface.
ARAGORA_TLS = env.bool("ARAGORA_TLS", default=not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = ARAGORA_TLS
SECURE_HSTS_SECONDS = 31_536_000 if ARAGORA_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("ARAGORA_HSTS_INCLUDE_SUBDOMAINS", default=False)
# The header a TLS-terminating proxy sets, "Header-Name: value", e.g. "X-Forwarded-Proto: https".
# Only set it when that proxy always sets (or strips) the header: otherwise clients could claim HTTPS.
_proxy_ssl_header = env.str("ARAGORA_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    _name, _, _value = _proxy_ssl_header.partition(":")
    if not _name.strip() or not _value.strip():
        raise ImproperlyConfigured('ARAGORA_PROXY_SSL_HEADER must look like "X-Forwarded-Proto: https".')
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _name.strip().upper().replace("-", "_"), _value.strip())
# Hosts that checkout, cancel and portal return URLs may point to (empty: the ALLOWED_HOSTS).
ARAGORA_REDIRECT_ALLOWED_HOSTS = env.list("ARAGORA_REDIRECT_ALLOWED_HOSTS", default=[])
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# ------------------------------------------------------------------------------
# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# ------------------------------------------------------------------------------
# USAGE
# ------------------------------------------------------------------------------
# Events per POST /api/usage/events batch (and per UsageTracker.record_events call).
USAGE_MAX_BATCH_EVENTS = env.int("USAGE_MAX_BATCH_EVENTS", default=1000)
# How far in the past an event's occurred_at may lie (late reports of last month's usage still count).
USAGE_MAX_BACKDATE_DAYS = env.int("USAGE_MAX_BACKDATE_DAYS", default=35)
# Size limit of one event's metadata, as compact JSON.
USAGE_MAX_METADATA_BYTES = env.int("USAGE_MAX_METADATA_BYTES", default=8192)
if not 1 <= USAGE_MAX_BATCH_EVENTS <= 10_000 or USAGE_MAX_BACKDATE_DAYS < 0 or USAGE_MAX_METADATA_BYTES < 2:
    raise ImproperlyConfigured(
        "USAGE_MAX_BATCH_EVENTS must be 1..10000, USAGE_MAX_BACKDATE_DAYS >= 0 and USAGE_MAX_METADATA_BYTES >= 2."
    )
