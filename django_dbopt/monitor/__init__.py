"""The query monitor: capture, fingerprints, aggregates, slow queries, N+1, EXPLAIN, advice.

``scope(name)`` attributes the queries of a block of code (a script, a job) to ``name``
and reports its N+1 findings when the block ends; requests get one from
``django_dbopt.middleware.QueryMonitorMiddleware`` and Celery tasks from the task
signals wired in ``AppConfig.ready()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django_dbopt.monitor.scope import Scope


def query_stats(limit: int) -> list[dict[str, Any]]:
    """This process's query totals per (alias, fingerprint), most total time first.

    Each item: ``alias``, ``fingerprint``, ``count``, ``total_s`` and ``buckets`` (a list
    of ``(upper_bound_s, cumulative_count)`` ending with ``inf``). Counts only grow while
    the process lives. Read by the Prometheus endpoint (``django_dbopt.metrics``).
    """
    from django_dbopt.monitor.exported import TOTALS

    return TOTALS.query_stats(limit)


@contextlib.contextmanager
def scope(name: str) -> Iterator[Scope]:
    """Attribute the queries run inside the block to ``name`` (a view label)."""
    from django_dbopt.monitor.capture import finish_scope, new_scope
    from django_dbopt.monitor.scope import current

    opened = new_scope(name)
    token = current.set(opened)
    try:
        yield opened
    finally:
        current.reset(token)
        finish_scope(opened)
