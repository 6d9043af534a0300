"""Settings for the django-dbopt demo site.

Everything that differs between deployments comes from the environment (12-factor,
through django-environ). With nothing set, the site runs on the embedded default:
SQLite in ``example_project/db.sqlite3`` and an in-process cache.

    DATABASE_URL   primary database (default: the SQLite file above);
                   the replica router, the pool manager, EXPLAIN/HypoPG advice,
                   migrations linting by table size and pg_dump backups need
                   PostgreSQL, e.g. postgres://user@127.0.0.1:5432/demo
    REPLICA_URLS   comma-separated read replicas, aliased replica1, replica2, ...
                   (PostgreSQL hot standbys; empty by default)
    REDIS_URL      when set, the default cache is the two-tier cache over Redis;
                   when unset, the two-tier cache in L1-only mode (this process's
                   memory; docs/cache.md, "L1-only mode")
    SECRET_KEY, DEBUG, ALLOWED_HOSTS
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import environ  # type: ignore[import-untyped]  # django-environ ships no types

BASE_DIR = Path(__file__).resolve().parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-dbopt-demo-only-never-use-this-key-in-production"
)
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_dbopt",
    "example_project.demo",
]

MIDDLEWARE = [
    # first, so the other middlewares' queries (sessions, auth) count towards the view
    "django_dbopt.middleware.QueryMonitorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # read-your-writes for the replica router, above SessionMiddleware so that session
    # saves are tracked too (a no-op without replicas)
    "django_dbopt.routing.ReadYourWritesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"

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

# --- Databases -----------------------------------------------------------------------
# SQLite unless DATABASE_URL says otherwise. The PostgreSQL-only parts of django_dbopt
# report themselves as unavailable on SQLite instead of failing.
DATABASES: dict[str, dict[str, Any]] = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Each replica URL becomes an alias: replica1, replica2, ... (PostgreSQL only).
for _number, _url in enumerate(env.list("REPLICA_URLS", default=[]), start=1):
    DATABASES[f"replica{_number}"] = environ.Env.db_url_config(_url)
    # a replica that stops answering must not hold a read for the TCP timeout (W022)
    DATABASES[f"replica{_number}"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)

# On PostgreSQL, connections come from Django's psycopg pool, managed by django_dbopt
# (fork-safe, session reset, leak reports, fail-fast breaker: docs/pool.md).
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["ENGINE"] = "django_dbopt.pool.postgresql"
        _db["CONN_MAX_AGE"] = 0
        _db.setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 10}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reads go to the replicas (when there are any), writes and transactions to default.
DATABASE_ROUTERS = ["django_dbopt.routing.ReplicaRouter"]

# --- Cache ---------------------------------------------------------------------------
# The two-tier cache: over Redis when REDIS_URL is set (invalidation across processes,
# cached EXPLAIN plans); otherwise in L1-only mode, in this process's memory (the
# embedded default: fine for runserver, see docs/cache.md for its multi-process limits).
REDIS_URL: str | None = env.str("REDIS_URL", default=None)
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    # The two-tier cache: in-process L1 over the Redis alias below (docs/cache.md).
    CACHES = {
        "default": {
            "BACKEND": "django_dbopt.cache.TwoTierCache",
            "LOCATION": "demo",
            "OPTIONS": {"L2": "redis"},
        },
        "redis": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        },
    }
elif importlib.util.find_spec("redis") is not None:  # the cache's code needs redis-py
    CACHES = {
        "default": {
            "BACKEND": "django_dbopt.cache.TwoTierCache",
            "LOCATION": "demo",
            "OPTIONS": {"L2": None, "L1_MAX_BYTES": 32 * 1024 * 1024},
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "dbopt-demo",
        },
    }

# --- Sessions and users --------------------------------------------------------------
# Database-backed sessions: the "sessions" table is one of the demo's hot tables.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
AUTH_USER_MODEL = "demo.User"
LOGIN_URL = "admin:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- django_dbopt --------------------------------------------------------------------
# All django_dbopt settings go in this one dict; see docs/ for the reference.
DBOPT: dict[str, Any] = {
    # The demo's tables are small, so its N+1 page sums to a few milliseconds: report
    # N+1s from 5 repeats whatever their total time (production default: 50 ms).
    # Fine 10-second buckets so that a minute of traffic (``manage.py demo_load``) draws
    # a trend on the admin overview (production default: 300 s).
    "MONITOR": {"NPLUSONE_MIN_TOTAL_MS": 0.0, "BUCKET_S": 10},
    "ALERTS": {"INTERVAL_S": 10.0},
}
_replicas = [alias for alias in DATABASES if alias.startswith("replica")]
if _replicas:
    DBOPT["ROUTING"] = {"REPLICAS": {"default": dict.fromkeys(_replicas, 1)}}
if CACHES["default"]["BACKEND"] == "django_dbopt.cache.TwoTierCache":
    # Automatic ORM caching of the demo's tables (needs the two-tier cache above).
    DBOPT["CACHE"] = {"ORM_MODELS": ["demo"]}
if env.str("DBOPT_BACKUP_KEY", default=""):
    # Backups (docs/backups.md): to a folder and, with DBOPT_S3_BUCKET, to S3 as well.
    DBOPT["BACKUP"] = {
        "LOCATION": env.str("DBOPT_BACKUP_DIR", default=str(BASE_DIR / "backups")),
        "S3_BUCKET": env.str("DBOPT_S3_BUCKET", default=None),
        "ENCRYPTION_KEYS": {"demo": "env:DBOPT_BACKUP_KEY"},
    }

# --- Internationalization and static files -------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
