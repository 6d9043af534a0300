"""The query monitor: capture, fingerprints, aggregates, slow queries, N+1, EXPLAIN, advice.

``scope(name)`` attributes the queries of a block of code (a script, a job) to ``name``
and reports its N+1 findings when the block ends; requests get one from
``django_dbopt.middleware.QueryMonitorMiddleware`` and Celery tasks from the task
signals wired in ``AppConfig.ready()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django_dbopt.monitor.scope import Scope


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
