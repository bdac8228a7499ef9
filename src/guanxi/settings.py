"""Guanxi settings, 12-factor: every deployment-specific value comes from the environment.

DATABASE_URL   default sqlite:///<GUANXI_DATA_DIR>/guanxi.sqlite3
REDIS_URL      absent → background jobs use an embedded SQLite queue (no extra server) and the
               cache lives in each process's memory; set → both live in Redis
EMAIL_URL      default smtp://localhost:25 (console backend when DEBUG and unset)
SECRET_KEY     required with PostgreSQL; the embedded default keeps a random one in the data dir
DEBUG          default off
ALLOWED_HOSTS  comma separated, default localhost,127.0.0.1
"""

import os
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def get_from_env(name: str, default=None, *, cast=str):
    """Read one setting from the environment, typed; ``default`` is returned uncast."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if cast is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    return cast(raw)


DATA_DIR = Path(get_from_env("GUANXI_DATA_DIR", Path.home() / ".guanxi")).expanduser()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = get_from_env("DEBUG", False, cast=bool)


def _embedded_secret_key(path: Path) -> str:
    """A random key kept in the data dir (mode 0600) for the embedded, single-machine default."""
    if not path.exists():
        import secrets

        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = get_from_env("SECRET_KEY")
if not SECRET_KEY:
    if os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")) and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment in production.")
    SECRET_KEY = _embedded_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = get_from_env("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], cast=list)
CSRF_TRUSTED_ORIGINS = get_from_env("CSRF_TRUSTED_ORIGINS", [], cast=list)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    "guanxi.core",
    "guanxi.customers",
    "guanxi.commerce",
    "guanxi.analytics",
    "guanxi.api",
    "guanxi.console",
    "guanxi.portal",
    "guanxi.segments",
    "guanxi.marketing",
    "guanxi.service",
    "guanxi.simulate",
    "guanxi.integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "guanxi.urls"
WSGI_APPLICATION = "guanxi.wsgi.application"
ASGI_APPLICATION = "guanxi.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = get_from_env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'guanxi.sqlite3'}")
# Connections are kept between requests (both databases): opening one per request cost more
# than the request itself on the API's hot paths (SQLite re-reads the schema on each connection).
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the console read while an import or the worker writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": get_from_env("GUANXI_TEST_SQLITE", None)}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The API's hot read paths prepare their few statements on the server (Django's own
    # queries bind client-side and are never prepared). Off behind a pooler that cannot keep
    # prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        5 if get_from_env("GUANXI_PG_PREPARED_STATEMENTS", True, cast=bool) else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"
SESSION_COOKIE_HTTPONLY = True
# Behind HTTPS in production set GUANXI_HTTPS=1: secure cookies, HSTS, redirect to https.
GUANXI_HTTPS = get_from_env("GUANXI_HTTPS", False, cast=bool)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = GUANXI_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if GUANXI_HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if GUANXI_HTTPS else None

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step

# --- Email ----------------------------------------------------------------------------------
_email = dj_email_url.parse(get_from_env("EMAIL_URL", "smtp://localhost:25"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
DEFAULT_FROM_EMAIL = get_from_env("DEFAULT_FROM_EMAIL", "Guanxi <noreply@localhost>")
# Where customers reach this server (links in emails: unsubscribe, preferences, tracking).
GUANXI_PUBLIC_URL = get_from_env("GUANXI_PUBLIC_URL", "http://127.0.0.1:8000")
# Marketing never spams: at most N marketing emails per person per D days; held-back messages
# are deferred (default) or dropped with a visible reason; no marketing in quiet hours (local).
GUANXI_FREQUENCY_CAP = get_from_env("GUANXI_FREQUENCY_CAP", 3, cast=int)
GUANXI_FREQUENCY_CAP_DAYS = get_from_env("GUANXI_FREQUENCY_CAP_DAYS", 7, cast=int)
GUANXI_FREQUENCY_CAP_POLICY = get_from_env("GUANXI_FREQUENCY_CAP_POLICY", "defer")
# Bounces and complaints: a bounce mailbox polled every minute (imaps://user:pass@host/INBOX),
# and the secret of the signed webhook POST /api/v1/marketing/bounces. The N-th soft bounce
# within D days marks an address invalid (a hard bounce does at once).
GUANXI_BOUNCE_IMAP_URL = get_from_env("GUANXI_BOUNCE_IMAP_URL", "")
GUANXI_BOUNCE_WEBHOOK_SECRET = get_from_env("GUANXI_BOUNCE_WEBHOOK_SECRET", "")
GUANXI_SOFT_BOUNCE_LIMIT = get_from_env("GUANXI_SOFT_BOUNCE_LIMIT", 3, cast=int)
GUANXI_SOFT_BOUNCE_DAYS = get_from_env("GUANXI_SOFT_BOUNCE_DAYS", 30, cast=int)
GUANXI_QUIET_HOURS_START = get_from_env("GUANXI_QUIET_HOURS_START", 21, cast=int)
GUANXI_QUIET_HOURS_END = get_from_env("GUANXI_QUIET_HOURS_END", 8, cast=int)

# --- Background jobs (Huey) -----------------------------------------------------------------
# Huey: the embedded default keeps its queue in SQLite (no extra server); with REDIS_URL set the
# queue lives in Redis. Both give retries with delay and crontab-style periodic tasks.
REDIS_URL = get_from_env("REDIS_URL")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "guanxi",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "guanxi",
        "filename": str(DATA_DIR / "jobs.sqlite3"),
        "immediate": get_from_env("GUANXI_JOBS_IMMEDIATE", False, cast=bool),
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- Cache ----------------------------------------------------------------------------------
# Shared by every process in Redis when REDIS_URL is set (so an invalidation, e.g. a revoked API
# token, reaches every web worker at once); otherwise each process keeps its own in memory.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "guanxi",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# How long a verified API token is remembered (seconds; 0 = look it up on every request). A
# revoked token is forgotten at once in the process that revokes it, and everywhere with Redis;
# with the per-process cache other processes may accept it for up to this long.
GUANXI_API_TOKEN_CACHE_SECONDS = get_from_env("GUANXI_API_TOKEN_CACHE_SECONDS", 10, cast=int)

# --- Guanxi ---------------------------------------------------------------------------------
GUANXI_DEFAULT_CURRENCY = get_from_env("GUANXI_DEFAULT_CURRENCY", "USD")
GUANXI_STORE_TIMEZONE = get_from_env("GUANXI_STORE_TIMEZONE", "UTC")
GUANXI_API_BATCH_LIMIT = 1000
# Where analytics expressions run: "duckdb" (in-process, default) or "spark" (local or cluster).
GUANXI_ANALYTICS_ENGINE = get_from_env("GUANXI_ANALYTICS_ENGINE", "duckdb")
# Also keep every run's personal picks as Recommendation rows (for analysis in SQL). Off: the
# served lists hold them either way, and at 885 K customers the rows are ~16 M a run (~50 s).
GUANXI_RECOMMENDATION_HISTORY = get_from_env("GUANXI_RECOMMENDATION_HISTORY", False, cast=bool)
# Store integrations (docs/integrations.md). Webhook secrets by shop domain, from the environment:
# GUANXI_WEBHOOK_SECRETS="shop.myshopify.com=s3cret,woo.example.com=other" (wins over the store's).
GUANXI_WEBHOOK_SECRETS = dict(
    pair.strip().split("=", 1)
    for pair in get_from_env("GUANXI_WEBHOOK_SECRETS", "").split(",")
    if "=" in pair
)
GUANXI_TRACKER_RATE_LIMIT = get_from_env("GUANXI_TRACKER_RATE_LIMIT", 600, cast=int)  # per min
GUANXI_WEBHOOK_RETRY_BASE_SECONDS = get_from_env("GUANXI_WEBHOOK_RETRY_BASE_SECONDS", 30, cast=int)
GUANXI_WEBHOOK_MAX_ATTEMPTS = get_from_env("GUANXI_WEBHOOK_MAX_ATTEMPTS", 8, cast=int)
# Identity resolution: "duckdb" (default) or "spark" (docs/identity.md).
GUANXI_IDENTITY_ENGINE = get_from_env("GUANXI_IDENTITY_ENGINE", "duckdb")

# --- Service desk ---------------------------------------------------------------------------
MEDIA_ROOT = DATA_DIR / "media"  # ticket attachments
GUANXI_SUPPORT_EMAIL = get_from_env("GUANXI_SUPPORT_EMAIL", "Guanxi support <support@localhost>")
# Base URL of the portal in emails (links to tickets, articles and surveys).
GUANXI_PORTAL_URL = get_from_env("GUANXI_PORTAL_URL", "http://127.0.0.1:8000")
# HMAC secret of the inbound-email webhook; unset → the webhook refuses everything.
GUANXI_INBOUND_EMAIL_SECRET = get_from_env("GUANXI_INBOUND_EMAIL_SECRET", "")
# Mailbox polled by `guanxi service fetch-mail`: imaps://user:pass@host:993/INBOX
GUANXI_IMAP_URL = get_from_env("GUANXI_IMAP_URL", "")
GUANXI_SERVICE_MAX_ATTACHMENT_MB = get_from_env("GUANXI_SERVICE_MAX_ATTACHMENT_MB", 10, cast=float)
# Coupon (percent off) for answering a CSAT survey; 0 = none.
GUANXI_CSAT_COUPON_PERCENT = get_from_env("GUANXI_CSAT_COUPON_PERCENT", 0, cast=int)
# Solved tickets close (a customer's next message opens a follow-up) after this many days.
GUANXI_SERVICE_CLOSE_SOLVED_DAYS = get_from_env("GUANXI_SERVICE_CLOSE_SOLVED_DAYS", 4, cast=int)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"guanxi": {"handlers": ["console"], "level": get_from_env("LOG_LEVEL", "INFO")}},
}
