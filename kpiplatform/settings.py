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
from kombu import Queue

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
    # No NUL, lone surrogate or undecodable text in the path, query, cookies or form fields (kpiplatform/edge.py).
    "kpiplatform.edge.EdgeInputMiddleware",
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
# Caches: "default" in each process (API throttling: fast, never down); "shared" across processes
# for counters that must hold for the whole site (password-reset throttle): Redis when REDIS_URL is
# set, else files under var/. Callers of "shared" fail open when it is unreachable.
# ---------------------------------------------------------------------------
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
    ),
}

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
# Count failures per account, not per typed text: a username and the account's e-mail in any case share one counter.
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_username"
# The locked answer without that key (for a login typed as an e-mail, the account's username).
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# Password reset: at most this many e-mails per address, and this many requests per client address, per window.
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 3)
PASSWORD_RESET_IP_LIMIT = env_int("PASSWORD_RESET_IP_LIMIT", 10)
PASSWORD_RESET_WINDOW_MINUTES = env_int("PASSWORD_RESET_WINDOW_MINUTES", 60)
# Links signed into e-mails (the digest's unsubscribe link) stop working after this many days.
KPI_SIGNED_LINK_DAYS = env_int("KPI_SIGNED_LINK_DAYS", 60)

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
# Every task's hard and soft time limits. The longest task, the nightly full recompute, takes minutes on a
# million activity records: half an hour leaves room for growth and still stops a task that hangs.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    PROBLEMS.append(
        f"CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}) must be above 0 and below "
        f"CELERY_TASK_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT}): the soft limit lets a task stop cleanly first."
    )
# Redis (broker, and result backend when one is set): seconds to wait for a connection, then for each reply.
# A healthy Redis answers in milliseconds. A request that enqueues work while Redis is down (refused,
# unreachable, or hung) gives up within these bounds, logs a warning and answers: its work is already stored
# and a sweep sends it later (kpiplatform.queue). The worker, for its part, reconnects (see below).
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_SOCKET_TIMEOUT = 1.0
# Redis redelivers a message whose worker died without acknowledging it (SIGKILL, OOM, lost host: tasks
# acknowledge late) once it has been unacknowledged for `visibility_timeout` seconds. Trade-off: too long and
# a killed task's work waits that long (kombu's default is an hour); too short and a task still running, or
# waiting for its countdown, is handed to a second worker as well. So: the hard time limit plus a margin,
# which also exceeds the longest countdown (webhook retries, 8 minutes). A second run is harmless (tasks are
# idempotent), and the dirty marks and pending deliveries are swept anyway.
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5 * 60),
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        # A sender's connection attempt (kombu's default_channel) tries once instead of sleeping 2 s and
        # trying again; the worker's and beat's consuming connection retries per broker_connection_max_retries.
        "max_retries": 0,
    }
elif CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# No result backend unless one is asked for: no code reads a task's result (tasks store their outcome in the
# database), and with Redis as the backend every `delay()` first subscribed to the result's channel, retrying
# for about 20 s when Redis was down. When one is set, it gets the same short timeouts and no retries.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 0}}
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
# Two sides, two sets of knobs. The worker and beat keep reconnecting to a broker that went away, for as long
# as it takes, waiting 2, 4, 6 … up to 30 s between attempts (broker_connection_retry and
# broker_connection_max_retries apply to their consuming connection only). Web requests never wait for the
# broker: kpiplatform.queue sends without publish retries (task_publish_retry, on for the worker's own
# retries), and a broker connection attempt gives up after broker_connection_timeout.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# Task modules outside the autodiscovered `tasks.py` of each app.
# One queue per kind of work, so a long recompute or a big import never holds back an alert or an e-mail.
# A worker started without -Q consumes every queue (the embedded default, `make run`); in production, run
# dedicated workers per queue (README, "Production topology"). Routing is by task name.
KPI_TASK_QUEUES = ("celery", "recompute", "imports", "alerts", "deliveries")
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in KPI_TASK_QUEUES]
CELERY_TASK_ROUTES = {
    "metrics.tasks.*": {"queue": "recompute"},
    "metrics.import_tasks.*": {"queue": "imports"},
    "objectives.alert_tasks.*": {"queue": "alerts"},
    "objectives.tasks.*": {"queue": "alerts"},
    "objectives.delivery_tasks.*": {"queue": "deliveries"},
}
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
    # JSON bodies without NUL characters, lone surrogates or deep nesting (kpiplatform/edge.py).
    "DEFAULT_PARSER_CLASSES": [
        "kpiplatform.edge.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
    # JSON for every error: 503 when the database is unavailable, 500 `{"detail"}` for the unexpected.
    "EXCEPTION_HANDLER": "kpiplatform.api_errors.exception_handler",
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
    # Every operation documents the errors it serves (400, 401, 403, 404, 413, 415, 429, 503) and their bodies.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kpiplatform.api_schema.document_error_responses",
    ],
}
# Largest request body accepted by the API and the CSV import.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KPI_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Activity ingestion: records per POST /api/v1/activity/<kind>/ and body size; larger gets a 413.
KPI_MAX_BATCH_RECORDS = env_int("KPI_MAX_BATCH_RECORDS", 10_000)
# JSON bodies nested deeper than this (arrays and objects within one another) get a 400.
KPI_MAX_JSON_DEPTH = env_int("KPI_MAX_JSON_DEPTH", 64)
# Plausible dates (query parameters, forms, bodies, files): from 1 January of the first year to 31 December of the last.
KPI_DATE_MIN_YEAR = env_int("KPI_DATE_MIN_YEAR", 1990)
KPI_DATE_MAX_YEAR = env_int("KPI_DATE_MAX_YEAR", 2100)
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
