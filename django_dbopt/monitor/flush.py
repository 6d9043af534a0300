"""Moving this process's aggregates to the shared store, off the request path.

``flush_now()`` drains the in-process aggregates, slow-query samples and N+1 findings
and writes them in one batch. One daemon thread per process (restarted after a fork)
flushes every ``FLUSH_INTERVAL_S`` seconds, compacts/prunes the store every tenth flush
and flushes once more at exit; ``QueryMonitorMiddleware`` starts it in web processes,
``worker_process_init`` in Celery workers, the first query of a management command in
commands. ``FLUSH_INTERVAL_S = 0`` turns automatic flushing off (``dbopt_report`` and
``flush_now()`` still flush). A failed write puts the data back, so an outage loses
nothing but what the bounded buffers cannot hold; the app never sees the error.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections

from django_dbopt.conf import get_config
from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.capture import FINDINGS, SLOW_QUEUE
from django_dbopt.monitor.exported import TOTALS
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import Store, get_store

logger = logging.getLogger("django_dbopt.monitor")

_lock = threading.Lock()
_started_pid: int | None = None
_flushes = 0
_stop: threading.Event | None = None
_thread: threading.Thread | None = None


@dataclass
class FlushResult:
    keys: int
    slow: int
    findings: int
    evictions: int


def store_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DatabaseError]
    try:
        from django_redis.exceptions import ConnectionInterrupted
        from redis.exceptions import RedisError
    except ImportError:  # the redis extra is not installed
        return tuple(errors)
    return (*errors, RedisError, ConnectionInterrupted)


def flush_now(store: Store | None = None) -> FlushResult:
    """Write everything this process holds to the store. Raises ``ServiceUnavailable``
    (data kept for the next try) when the store cannot be written."""
    snapshot = AGGREGATES.drain()
    slow = [SLOW_QUEUE.popleft() for _ in range(len(SLOW_QUEUE))]
    findings = FINDINGS.drain()
    result = FlushResult(len(snapshot.stats), len(slow), len(findings), snapshot.evictions)
    if not (snapshot.stats or slow or findings or snapshot.evictions):
        return result
    token = suppressed.set(True)
    try:
        (store or get_store()).write(snapshot, slow, findings)
    except store_errors() as e:
        AGGREGATES.restore(snapshot)
        SLOW_QUEUE.extendleft(reversed(slow))
        FINDINGS.restore(findings)
        raise ServiceUnavailable(f"query monitor store unavailable: {e}") from e
    finally:
        suppressed.reset(token)
    TOTALS.fold(snapshot, get_config().monitor.max_fingerprints)
    return result


def maintain_now(store: Store | None = None) -> dict[str, int]:
    token = suppressed.set(True)
    try:
        return (store or get_store()).maintain()
    except store_errors() as e:
        raise ServiceUnavailable(f"query monitor store unavailable: {e}") from e
    finally:
        suppressed.reset(token)


def _tick() -> None:
    global _flushes
    try:
        flush_now()
        _flushes += 1
        if _flushes % 10 == 0:
            maintain_now()
    except ServiceUnavailable as e:
        logger.warning("query monitor flush failed, will retry: %s", e)
    finally:
        _evaluate_alerts()
        suppressed_token = suppressed.set(True)
        try:
            connections.close_all()  # this thread's own connections
        finally:
            suppressed.reset(suppressed_token)


def _evaluate_alerts() -> None:
    """The alert rules ride on this thread (``django_dbopt.ops.alerts``)."""
    from django_dbopt.ops.alerts import maybe_evaluate

    try:
        maybe_evaluate()
    except ImproperlyConfigured as e:
        logger.error("alerts not evaluated: %s", e)


def _run(interval: float, stop: threading.Event) -> None:
    token = suppressed.set(True)  # this thread's own queries are not monitored
    try:
        while not stop.wait(interval):
            _tick()
    finally:
        suppressed.reset(token)


def ensure_flusher() -> None:
    """Start this process's flush thread once (again after a fork); no-op if disabled."""
    global _started_pid, _stop, _thread
    if _started_pid == os.getpid():
        return
    interval = get_config().monitor.flush_interval_s
    with _lock:
        if _started_pid == os.getpid():
            return
        _started_pid = os.getpid()
        if interval <= 0:
            return
        _stop = threading.Event()
        _thread = threading.Thread(
            target=_run, args=(interval, _stop), name="dbopt-monitor-flush", daemon=True
        )
        _thread.start()
        atexit.register(_at_exit, _stop)


def stop_flusher(timeout: float = 10.0) -> None:
    """Stop this process's flush thread (it is restarted by the next ``ensure_flusher``)."""
    global _started_pid, _stop, _thread
    with _lock:
        if _stop is not None:
            _stop.set()
        if _thread is not None:
            _thread.join(timeout)
        atexit.unregister(_at_exit)
        _started_pid, _stop, _thread = None, None, None


def _at_exit(stop: threading.Event, *args: Any) -> None:
    stop.set()
    token = suppressed.set(True)
    try:
        flush_now()
    except ServiceUnavailable as e:
        if _tables_missing():  # e.g. a command run before the first ``migrate``
            logger.debug("query monitor: nothing stored, its tables do not exist yet")
        else:
            logger.warning("query monitor: final flush failed: %s", e)
    finally:
        suppressed.reset(token)


def _tables_missing() -> bool:
    """The database store's tables are not created (migrations not applied yet)."""
    if get_config().monitor.store_cache:
        return False
    from django.db import DatabaseError, connections, router

    from django_dbopt.monitor.models import QueryStat

    alias = router.db_for_write(QueryStat)
    try:
        return QueryStat._meta.db_table not in connections[alias].introspection.table_names()
    except DatabaseError:
        return False
