"""Query capture: an ``execute_wrapper`` on every connection, and what it records.

``install`` is connected to ``connection_created``, so every connection (web requests,
management commands, Celery workers, threads) gets one ``QueryRecorder``. Per query the
recorder times ``execute`` and then does a memoized fingerprint lookup and counter
updates: no I/O, no stack walk, no SQL parsing. Only a slow query (rare by definition)
walks the stack for its call site. Exceptions from ``execute`` propagate untouched and
``execute`` is called exactly once, so the recorder composes with other wrappers.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper

from django_dbopt import signals
from django_dbopt.conf import SETTING_NAME, get_config
from django_dbopt.monitor import callsite
from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.fingerprint import Fingerprint, fingerprint
from django_dbopt.monitor.scope import (
    Finding,
    FindingsBuffer,
    Scope,
    current,
    suppressed,
    watchers,
)
from django_dbopt.wrappers import install_first

logger = logging.getLogger("django_dbopt.monitor")

#: recent slow queries and N+1 findings waiting for the next flush (bounded)
SLOW_QUEUE: deque[dict[str, Any]] = deque(maxlen=500)
FINDINGS = FindingsBuffer(max_keys=500)


@dataclass(frozen=True)
class Runtime:
    enabled: bool
    slow_ns: int
    capture_params: bool
    min_count: int
    min_total_ns: int
    default_view: str
    #: a management command (not ``test``): start the flush thread on its first query
    command_flusher: bool


#: commands whose queries are not flushed (the test runner's database is gone at exit)
NO_FLUSH_COMMANDS = frozenset({"command:test"})
_command_flusher_started = False


def _default_view() -> str:
    """Queries outside any scope: ``command:<name>`` under manage.py, else ``-``."""
    argv = sys.argv
    program = argv[0] if argv else ""
    is_django = os.path.basename(program) in ("manage.py", "django-admin") or program.endswith(
        os.path.join("django", "__main__.py")
    )
    if is_django and len(argv) > 1:
        return f"command:{argv[1]}"
    return "-"


@functools.cache
def runtime() -> Runtime:
    config = get_config().monitor
    AGGREGATES.max_keys = config.max_fingerprints
    return Runtime(
        enabled=config.enabled,
        slow_ns=round(config.slow_query_ms * 1e6),
        capture_params=config.capture_params,
        min_count=config.nplusone_min_count,
        # under DEBUG the repeat count alone makes an N+1 (as nplusone does): development
        # queries are fast, so a summed-time threshold would hide them
        min_total_ns=0 if settings.DEBUG else round(config.nplusone_min_total_ms * 1e6),
        default_view=(view := _default_view()),
        command_flusher=view.startswith("command:") and view not in NO_FLUSH_COMMANDS,
    )


def reset_runtime(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (``monitor.wiring``)."""
    if setting in (SETTING_NAME, "DEBUG"):
        runtime.cache_clear()


class QueryRecorder:
    """The ``execute_wrapper`` installed on each connection."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if suppressed.get():
            return execute(sql, params, many, context)
        start = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            record(self.alias, sql, time.perf_counter_ns() - start, params)


def install(*, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: add the recorder once per connection wrapper,
    outermost (see ``django_dbopt.wrappers``)."""
    install_first(connection, "monitor", QueryRecorder(connection.alias))


def record(alias: str, sql: str, ns: int, params: Any = None) -> None:
    try:
        rt = runtime()
    except ImproperlyConfigured as e:  # never turn a settings mistake into failing queries
        _warn_misconfigured(str(e))
        return
    fp = fingerprint(sql)
    for watcher in watchers.get():
        watcher.record(fp, alias, ns)
    if not rt.enabled:
        return
    scope = current.get()
    view = scope.name if scope is not None else rt.default_view
    slow = ns >= rt.slow_ns
    AGGREGATES.add(fp, alias, view, ns, slow)
    if scope is not None:
        scope.record(fp, alias, ns)
    elif rt.command_flusher and not _command_flusher_started:
        _start_command_flusher()
    if slow:
        _report_slow(rt, fp, alias, view, ns, params)


def _start_command_flusher() -> None:
    """Management commands have no middleware: flush their aggregates in the background
    and at exit, like a web process."""
    global _command_flusher_started
    _command_flusher_started = True
    from django_dbopt.monitor.flush import ensure_flusher

    ensure_flusher()


@functools.lru_cache(maxsize=16)
def _warn_misconfigured(message: str) -> None:
    """Log each distinct settings problem once."""
    logger.error("query monitor off until DBOPT is fixed: %s", message)


def _report_slow(
    rt: Runtime, fp: Fingerprint, alias: str, view: str, ns: int, params: Any
) -> None:
    site = callsite.format_site(callsite.call_site(depth=3))
    duration_ms = round(ns / 1e6, 3)
    kept_params = repr(params)[:1000] if rt.capture_params and params is not None else None
    SLOW_QUEUE.append(
        {
            "fingerprint": fp.id,
            "sql": fp.sql,
            "alias": alias,
            "view": view,
            "call_site": site,
            "duration_ms": duration_ms,
            "at": time.time(),
            "params": kept_params,
        }
    )
    logger.warning(
        "slow query fingerprint=%s duration_ms=%.3f view=%s call_site=%s alias=%s",
        fp.id,
        duration_ms,
        view,
        site,
        alias,
        extra={
            "fingerprint": fp.id,
            "duration_ms": duration_ms,
            "view": view,
            "call_site": site,
            "alias": alias,
        },
    )
    for receiver, result in signals.slow_query.send_robust(
        sender=QueryRecorder,
        alias=alias,
        fingerprint=fp.id,
        sql=fp.sql,
        duration_ms=duration_ms,
        view=view,
        call_site=site,
        params=kept_params,
    ):
        if isinstance(result, Exception):
            logger.error("slow_query receiver %r failed: %r", receiver, result)


def new_scope(name: str) -> Scope:
    rt = runtime()
    return Scope(name, rt.min_count, rt.min_total_ns)


def finish_scope(scope: Scope) -> list[Finding]:
    """Report the N+1 findings of a finished scope: signal, log line, queued for the store."""
    findings = scope.findings()
    for finding in findings:
        FINDINGS.add(finding)
        logger.warning(
            "N+1 query fingerprint=%s count=%d total_ms=%.3f view=%s call_site=%s hint=%s",
            finding.fingerprint,
            finding.count,
            finding.total_ms,
            finding.view,
            finding.call_site,
            finding.hint,
            extra={"nplusone": finding.as_dict()},
        )
        for receiver, result in signals.nplusone_detected.send_robust(
            sender=QueryRecorder,
            alias=finding.alias,
            fingerprint=finding.fingerprint,
            count=finding.count,
            total_ms=finding.total_ms,
            view=finding.view,
            call_site=finding.call_site,
            hint=finding.hint,
        ):
            if isinstance(result, Exception):
                logger.error("nplusone_detected receiver %r failed: %r", receiver, result)
    return findings
