"""Django settings for the Celery worker the routing tests start as a subprocess.

It attaches to the suite's servers (``DBOPT_TEST_*_URL``, exported while the suite runs)
and reads the suite's test database (``DBOPT_TEST_DB_NAME``) on the primary and through
replication on the standby, with the replica router on.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES


def _alias(url: str, base: dict[str, object]) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        **base,
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "NAME": os.environ["DBOPT_TEST_DB_NAME"],
    }


DATABASES = {
    "default": _alias(os.environ["DBOPT_TEST_PRIMARY_URL"], DATABASES["default"]),
    "replica": _alias(os.environ["DBOPT_TEST_REPLICA_URL"], DATABASES["replica"]),
}
DATABASE_ROUTERS = ["django_dbopt.routing.ReplicaRouter"]
DBOPT = {
    "ROUTING": {
        "REPLICAS": {"default": {"replica": 1}},
        "PROBE_INTERVAL_S": 0.2,
        "FAILBACK_PROBES": 1,
    }
}
