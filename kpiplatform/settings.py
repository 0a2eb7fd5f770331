"""Settings of the KPI platform: one module, driven by environment variables.

Safe by default: debug is off unless ``DJANGO_DEBUG`` asks for it (``make run`` and the tests
do), and with debug off the settings refuse to start without a real secret key and allowed
hosts, saying which variable to set. With no database or broker configured the app runs
embedded: SQLite and a filesystem Celery broker under ``var/``. Production sets
``DATABASE_URL``, ``REDIS_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS`` and the
secure switches. The README lists every variable.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KPI_VAR_DIR", BASE_DIR / "var"))
# What is wrong with the environment, reported all at once at the end of this module.
PROBLEMS: list[str] = []

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" / "0", "false", "no", "off")."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        PROBLEMS.append(f"{name}={value!r} is not a yes/no value (use true or false).")
        return default
    return word in TRUE_WORDS


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    """Read a whole-number environment variable."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        PROBLEMS.append(f"{name}={value!r} is not a whole number.")
        return default


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", default=False)
INSECURE_KEY_PREFIX = "dev-insecure"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    # Only good for a local run in debug mode: without debug the settings refuse to start.
    f"{INSECURE_KEY_PREFIX}-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
)
if not DEBUG and SECRET_KEY.startswith(INSECURE_KEY_PREFIX):
    PROBLEMS.append(
        "DJANGO_SECRET_KEY is not set: set it to a long random value (or DJANGO_DEBUG=true for a local run)."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    PROBLEMS.append("DJANGO_ALLOWED_HOSTS is not set: list the host names the site answers to, comma-separated.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "accounts",
    "metrics",
    "objectives",
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
    # Last, as django-axes asks: it reads the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kpiplatform.urls"
WSGI_APPLICATION = "kpiplatform.wsgi.application"
ASGI_APPLICATION = "kpiplatform.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kpiplatform.navigation.navigation",
                "objectives.notifications.context_processors.notifications",
            ],
            "libraries": {"navigation": "kpiplatform.navigation"},
        },
    },
]

# ---------------------------------------------------------------------------
# Database: DATABASE_URL, or SQLite under var/
# ---------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except ValueError as error:
    PROBLEMS.append(f"DATABASE_URL cannot be read ({error}); expected e.g. postgres://user:password@host:5432/name.")
    DATABASES = {"default": dj_database_url.parse(f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the Celery worker read while the other writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock an account+address pair after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"

# ---------------------------------------------------------------------------
# Internationalisation: French first, English on request
# ---------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True
# Number formats follow the active language (1 234,56 in French).
USE_THOUSAND_SEPARATOR = True
# The organisation's reporting currency, shown next to amounts.
KPI_CURRENCY = os.environ.get("KPI_CURRENCY", "EUR")

# ---------------------------------------------------------------------------
# Static files: the project's own under static/, Chart.js from node_modules
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Installed by `npm ci` from package.json; never committed, never from a CDN.
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
# One storage in both modes: `collectstatic` (make setup) always writes the hashed files and their
# manifest, so switching debug off after set-up serves every page; in debug, links stay unhashed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# ---------------------------------------------------------------------------
# E-mail (console by default)
# ---------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# With the file backend (what `make run` uses), each e-mail is a file here.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "KPI <kpi@localhost>")
# Absolute links in e-mails (alerts, digests, unsubscribe) start with this address.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Outgoing webhooks refuse private, loopback, link-local, multicast and reserved addresses
# (no requests into the internal network) unless this is on, e.g. for a receiver on the same host.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE")

# ---------------------------------------------------------------------------
# Security switches for production
# ---------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------------------
# Celery: Redis when REDIS_URL/CELERY_BROKER_URL is set, else kombu's filesystem transport
# ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (REDIS_URL or None)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when the broker is down: the data is saved
# and the periodic sweep picks it up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_MAX_RETRIES = 1
# Task modules outside the autodiscovered `tasks.py` of each app.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {
    "heartbeat": {"task": "kpiplatform.celery.heartbeat", "schedule": crontab(minute="*/5")},
    # Objectives' progress also moves with time (expected pace, end of period): refresh hourly.
    "objectives-progress-hourly": {
        "task": "objectives.tasks.objectives_progress_refresh_task",
        "schedule": crontab(minute=7),
    },
    # KPI values: consume the dirty marks left by ingests whose enqueue was lost (broker down)…
    "metrics-recompute-dirty-sweep": {"task": "metrics.tasks.recompute_dirty_task", "schedule": 60.0},
    # …and recompute everything nightly, for recovery.
    "metrics-recompute-all-nightly": {
        "task": "metrics.tasks.recompute_all_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Alerts: also judged on a schedule (no data for N days, objective risk, missed wake-ups).
    "objectives-alerts-evaluate": {
        "task": "objectives.alert_tasks.alerts_evaluate_scheduled_task",
        "schedule": crontab(minute="*/15"),
    },
    # E-mails held by quiet hours or a broker outage, and webhook deliveries due for a retry.
    "objectives-deliveries-sweep": {
        "task": "objectives.delivery_tasks.deliveries_sweep_task",
        "schedule": crontab(minute="*/5"),
    },
    # Digests: the task sends each user's daily or weekly (Monday) digest once.
    "objectives-digests": {
        "task": "objectives.delivery_tasks.digests_send_task",
        "schedule": crontab(hour=7, minute=0),
    },
}

# ---------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Integrations: `Authorization: Api-Key <key>`; the browser: the session, with CSRF.
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "6000/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KPI platform API",
    "DESCRIPTION": "Push CRM activity, read KPI values, manage objectives and alerts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc come from drf-spectacular-sidecar through staticfiles: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets sharing a field name ("status", "kind") get explicit enum names.
    "ENUM_NAME_OVERRIDES": {
        "DealStatusEnum": "metrics.models.activity.DealStatus",
        "OrderStatusEnum": "metrics.models.activity.OrderStatus",
        "TicketKindEnum": "metrics.models.activity.TicketKind",
        "TeamKindEnum": "accounts.models.TeamKind",
        "SpendCategoryEnum": "metrics.models.activity.SpendCategory",
        "KpiCategoryEnum": "metrics.models.kpis.KpiCategory",
        "ProgressStatusEnum": "objectives.models.ProgressStatus",
        "ObjectiveStateEnum": "objectives.models.ObjectiveState",
        "AlertStateEnum": "objectives.models.AlertState",
        "AlertSeverityEnum": "objectives.models.AlertSeverity",
        "AlertConditionEnum": "objectives.models.AlertCondition",
        "GranularityEnum": "metrics.kpis.periods.Granularity",
    },
}
# Largest request body accepted by the API and the CSV import.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KPI_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Activity ingestion: records per POST /api/v1/activity/<kind>/ and body size; larger gets a 413.
KPI_MAX_BATCH_RECORDS = env_int("KPI_MAX_BATCH_RECORDS", 10_000)
KPI_MAX_BATCH_BYTES = env_int("KPI_MAX_BATCH_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
# Largest CSV/XLSX file accepted by the import page.
KPI_MAX_IMPORT_BYTES = env_int("KPI_MAX_IMPORT_BYTES", 50 * 1024 * 1024)
# How many days an import can be undone (what it created deleted, what it updated restored).
KPI_IMPORT_UNDO_DAYS = env_int("KPI_IMPORT_UNDO_DAYS", 7)

# ---------------------------------------------------------------------------
# Logging: to stderr; never log secrets
# ---------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
# Error reports (debug page, e-mails to admins) hide passwords inside URLs too (DATABASE_URL, REDIS_URL…).
DEFAULT_EXCEPTION_REPORTER_FILTER = "kpiplatform.errors.SecretsHidingFilter"

if PROBLEMS:
    raise ImproperlyConfigured("The environment is not usable:\n- " + "\n- ".join(PROBLEMS))
