"""A small Celery app for the routing tests: a real worker runs these tasks.

Broker and result backend: the suite's Redis (``DBOPT_TEST_REDIS_URL``), database 3.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.routing_worker_settings")


def _redis_url() -> str:
    base = os.environ.get("DBOPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + "/3"


app = Celery("dbopt_routing_tests", broker=_redis_url(), backend=_redis_url())
app.conf.update(
    task_default_queue="dbopt-routing-tests",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=300,
)


@app.task
def read_user(email: str) -> dict[str, Any]:
    """Which alias the router picks for this task's read, and whether it sees the row."""
    from example_project.demo.models import User

    queryset = User.objects.filter(email=email)
    return {"alias": queryset.db, "found": queryset.exists()}


@app.task
def replica_state(timeout: float = 20.0) -> str:
    """Start the worker's probes and wait (bounded) until its replica is in rotation."""
    from django_dbopt.routing import status
    from django_dbopt.routing.health import monitor

    monitor.ensure_started()
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        state = status().replicas[0].state
        if state == "healthy":
            break
        time.sleep(0.05)
    return state
