"""Django settings for the ``dbopt_migrate`` subprocess the adversarial tests signal.

It attaches to the suite's primary (``DBOPT_TEST_PRIMARY_URL``) and test database
(``DBOPT_TEST_DB_NAME``), with ``tests.migrate_attack_app`` installed and
``DBOPT["MIGRATIONS"]`` read from ``DBOPT_TEST_MIGRATIONS`` (JSON).
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

_url = urlsplit(os.environ["DBOPT_TEST_PRIMARY_URL"])
DATABASES = {
    "default": {
        **DATABASES["default"],
        "HOST": _url.hostname or "127.0.0.1",
        "PORT": str(_url.port or 5432),
        "USER": _url.username or "postgres",
        "PASSWORD": _url.password or "",
        "NAME": os.environ["DBOPT_TEST_DB_NAME"],
    }
}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.migrate_attack_app"]
DBOPT = {"MIGRATIONS": json.loads(os.environ.get("DBOPT_TEST_MIGRATIONS", "{}"))}
