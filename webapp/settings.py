"""Compresso settings: one module, every deployment knob read from the environment.

A laptop needs none of them (SQLite under var/, the in-memory channel layer);
a lab sets DATABASE_URL (PostgreSQL) and REDIS_URL (channels-redis).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from webapp.env import (
    env_bool,
    env_int,
    env_list,
    env_map,
    env_path,
    env_str,
    parse_database_url,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("COMPRESSO_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the default SQLite file and media live here

DEBUG = env_bool("DEBUG", True)
# The demo key is only for a laptop (DEBUG on); with DEBUG=false SECRET_KEY is required.
SECRET_KEY = secret_key(DEBUG, "compresso-insecure-demo-key-set-SECRET_KEY-in-a-lab")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: makes `runserver` serve ASGI (HTTP and WebSockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served locally: no CDN
    "channels",
    "measurements",
    "device_runner",
    "webapp.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files under daphne, DEBUG or not
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says otherwise (login, static, the API's
    # own views, which answer 401/403 themselves: see webapp.api.permissions).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webapp" / "templates"],
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

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'compresso.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: tests start runjobs processes that must see the test database.
    # One per test process, so two test runs on one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-compresso-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
# Channel and group names in Redis start with this, so two labs, or the parallel
# workers of one test run (pytest-xdist names each in PYTEST_XDIST_WORKER, and the
# servers and runners a test starts inherit it), can share one Redis without
# hearing each other's job progress: job ids restart at 1 in each test database.
CHANNELS_PREFIX = env_str("CHANNELS_PREFIX", "asgi") + os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX},
        }
    }
else:
    # One process only: runjobs streams through the Job row, which pages poll as a fallback.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "dashboard:overview"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# plotly.js is served from the installed plotly package (no CDN: the app works offline).
_PLOTLY_PACKAGE = Path(importlib.util.find_spec("plotly").submodule_search_locations[0])
_PLOTLY_JS_DIR = _PLOTLY_PACKAGE / "package_data"
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", _PLOTLY_JS_DIR)]
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "staticfiles")  # `manage.py collectstatic`
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"  # served by webapp.media (a login, never a bare file server)
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")

# Request bodies. webapp.asgi refuses a body over its limit with a 413 before Django reads
# it: uploads (models, result imports) may reach MAX_MODEL_UPLOAD_BYTES, anything else
# MAX_REQUEST_BODY_BYTES. The reverse proxy should refuse earlier still (README).
MAX_MODEL_UPLOAD_BYTES = env_int("MAX_MODEL_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1)
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES  # non-file bodies Django reads
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploaded files spool to disk
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# JSON request bodies: nesting and integer size past these are a 400 (webapp.api.parsers).
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 32, minimum=2)

# Access. Pages, API and media need a login; a public read-only lab lets anonymous
# visitors read the API and media (never job logs, device settings or /recommend).
PUBLIC_READ = env_bool("PUBLIC_READ", False)
# Executables device settings may name, by name: name=path pairs (a request never names a path).
DEVICE_EXECUTABLES = env_map("DEVICE_EXECUTABLES", {"adb": "adb"})
# Where ssh keys, known_hosts, ssh configs and benchmark_model binaries named by devices live.
DEVICE_FILES_DIR = env_path("DEVICE_FILES_DIR", VAR_DIR / "device-files")
# Server-side .npz datasets are registered only from under this directory.
DATASET_ROOT = env_path("DATASET_ROOT", VAR_DIR / "datasets")

# HTTPS behind a TLS-terminating reverse proxy that sets X-Forwarded-Proto (README).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", BEHIND_TLS_PROXY)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", BEHIND_TLS_PROXY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", BEHIND_TLS_PROXY)

# The API's rules, written once: every API view gets these unless it says otherwise, so a
# new endpoint that forgets them gets the lab's rules, not weaker ones. Token comes first so
# a request without credentials is a 401 with ``WWW-Authenticate: Token``, not a 403. The
# few views that differ (runner routes, stricter permissions) are listed and checked by
# tests/webapp/api/test_api_rules.py.
API_AUTHENTICATION = [
    "rest_framework.authentication.TokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
# Reads: signed in, or anyone in a public lab; writes: signed in; DELETE: staff.
API_PERMISSIONS = ["webapp.api.permissions.LabReadPolicy"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": API_AUTHENTICATION,
    "DEFAULT_PERMISSION_CLASSES": API_PERMISSIONS,
    "DEFAULT_PARSER_CLASSES": [
        "webapp.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "webapp.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Compresso API",
    "DESCRIPTION": "Compressed-model measurements: read, export, queue jobs, import results.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and Swagger UI need what the API needs: a login unless the lab is public.
    "SERVE_PERMISSIONS": API_PERMISSIONS,
    "SERVE_AUTHENTICATION": API_AUTHENTICATION,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.api.schema_hooks.document_access",  # 401, 403, 413 on every operation
    ],
    # Two models have a `status` and two a `source` with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "DatasetSourceEnum": "measurements.models.Dataset.Source",
        "ResultSourceEnum": "measurements.models.Result.Source",
        "ArtifactStatusEnum": "measurements.models.Artifact.Status",
        "JobStatusEnum": "measurements.models.Job.Status",
    },
}

# Job queue: how long a claimed job stays leased without a heartbeat.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 120, minimum=5)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
# Runner hosts keep models and artifacts fetched by SHA-256 here, cleaned past the size.
RUNNER_CACHE_DIR = env_path("RUNNER_CACHE_DIR", VAR_DIR / "runner-cache")
RUNNER_CACHE_MAX_BYTES = env_int("RUNNER_CACHE_MAX_BYTES", 2 * 1024**3, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # TensorFlow logs each SavedModel export at INFO ("Assets written to: …"),
    # which would break up runjobs' progress bar; its warnings still show.
    "loggers": {"tensorflow": {"level": "WARNING"}, "absl": {"level": "WARNING"}},
}

# The cap on fine-tuning epochs per compression step (it stops earlier, see the patience).
COMPRESSION_FINE_TUNE_EPOCHS = env_int("COMPRESSION_FINE_TUNE_EPOCHS", 30, minimum=0)
# Epochs without a better validation accuracy before fine-tuning stops and keeps its
# best epoch (compression.training.FineTune.patience); the epochs above are the cap.
COMPRESSION_FINE_TUNE_PATIENCE = env_int("COMPRESSION_FINE_TUNE_PATIENCE", 3, minimum=1)
