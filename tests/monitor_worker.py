"""A separate OS process for the monitor's multi-process tests.

    python -m tests.monitor_worker DBNAME STORE(db|redis) VIEW COUNT

Attaches to the suite's servers (``DBOPT_TEST_*`` URLs), runs COUNT queries of one shape
in a scope named VIEW, flushes to the shared store and prints its pid.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit


def main(dbname: str, store: str, view: str, count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    from tests.services import ENV_PRIMARY, ENV_REDIS

    parts = urlsplit(os.environ[ENV_PRIMARY])
    settings.DATABASES["default"].update(
        HOST=parts.hostname, PORT=str(parts.port), USER=parts.username or "postgres", NAME=dbname
    )
    del settings.DATABASES["replica"]
    settings.CACHES["redis"]["LOCATION"] = os.environ[ENV_REDIS]
    settings.DBOPT = {
        "MONITOR": {"FLUSH_INTERVAL_S": 0, "STORE_CACHE": "redis" if store == "redis" else None}
    }
    django.setup()

    from django.db import connection

    from django_dbopt.monitor import scope
    from django_dbopt.monitor.flush import flush_now

    with scope(view), connection.cursor() as cursor:
        for n in range(count):
            cursor.execute("SELECT %s::int AS worker_probe", [n])
    flush_now()
    print(os.getpid())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
