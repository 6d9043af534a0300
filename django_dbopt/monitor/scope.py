"""Scopes: one request, task, command or test block, and its N+1 detection.

The current scope lives in a ``ContextVar`` (so threads, asyncio tasks and Celery tasks
each see their own). Per query a scope does a dict update. Call sites are sampled, not
walked per query: when a fingerprint repeats in a scope its call site is read at the 2nd
occurrence, at ``min_count`` and at each power of two after; two consecutive samples
from the same in-app line confirm the repetition comes from one place. Only then is the
stack captured and the relation hint derived, once per finding. ``exact`` scopes (the
test helpers) read the call site of every query instead, so budgets and assertions in
tests are precise.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from django_dbopt.monitor import callsite
from django_dbopt.monitor.callsite import CallSite
from django_dbopt.monitor.fingerprint import Fingerprint

logger = logging.getLogger("django_dbopt.monitor")

#: keep this many fingerprints per scope; more are counted but not watched for N+1
MAX_WATCHED = 2000
#: stacks and hints are captured once per (fingerprint, call site) per process
MAX_DETAILS = 1000
_DETAILS: dict[tuple[str, object], tuple[list[str], str | None]] = {}


@dataclass
class Finding:
    """An N+1: one query shape repeated from one call site within one scope."""

    fingerprint: str
    sql: str
    alias: str
    view: str
    call_site: str
    count: int
    total_ms: float
    hint: str | None
    stack: list[str]
    #: scopes merged into this one while buffered (``count`` is then the largest)
    occurrences: int = 1

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class FindingsBuffer:
    """Findings waiting for the next flush, merged per (fingerprint, view, call site), so
    a page with an N+1 costs one row update per flush, not one per request."""

    def __init__(self, max_keys: int = 500) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str, str], Finding] = {}
        self.dropped = 0

    def add(self, finding: Finding) -> None:
        key = (finding.fingerprint, finding.view, finding.call_site)
        with self._lock:
            held = self._data.get(key)
            if held is None:
                if len(self._data) >= self.max_keys:
                    self.dropped += 1
                    return
                self._data[key] = dataclasses.replace(finding)
                return
            held.occurrences += finding.occurrences
            held.count = max(held.count, finding.count)
            held.total_ms += finding.total_ms

    def drain(self) -> list[Finding]:
        with self._lock:
            data, self._data = self._data, {}
            dropped, self.dropped = self.dropped, 0
        if dropped:
            logger.warning("query monitor: %d N+1 findings dropped (buffer full)", dropped)
        return list(data.values())

    def restore(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def clear(self) -> None:
        self.drain()

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Finding]:
        with self._lock:
            return iter(list(self._data.values()))


class _Repeat:
    __slots__ = ("alias", "confirmed", "count", "fp", "hint", "site", "stack", "total_ns")

    def __init__(self, fp: Fingerprint, alias: str) -> None:
        self.fp = fp
        self.alias = alias
        self.count = 0
        self.total_ns = 0
        self.site: CallSite | None = None
        self.confirmed = False
        self.hint: str | None = None
        self.stack: list[str] = []


@dataclass(eq=False)
class Scope:
    name: str
    min_count: int
    min_total_ns: int
    exact: bool = False
    queries: int = 0
    db_ns: int = 0
    repeats: dict[object, _Repeat] = field(default_factory=dict)

    def record(self, fp: Fingerprint, alias: str, ns: int) -> None:
        self.queries += 1
        self.db_ns += ns
        if self.exact:
            site = callsite.call_site(depth=3)
            key: object = (fp.id, site)
        else:
            site = None
            key = fp.id
        entry = self.repeats.get(key)
        if entry is None:
            if len(self.repeats) >= MAX_WATCHED:
                return
            entry = self.repeats[key] = _Repeat(fp, alias)
            entry.site = site
        entry.count += 1
        entry.total_ns += ns
        count = entry.count
        if entry.confirmed:
            return
        if self.exact:
            if count >= self.min_count:
                self._confirm(entry)
        elif (
            count == 2
            or count == self.min_count
            or (count > self.min_count and count & (count - 1) == 0)
        ):
            sample = callsite.call_site(depth=3)
            if count >= self.min_count and sample is not None and sample == entry.site:
                self._confirm(entry)
            entry.site = sample

    @staticmethod
    def _confirm(entry: _Repeat) -> None:
        entry.confirmed = True
        key = (entry.fp.id, entry.site)
        details = _DETAILS.get(key)
        if details is None:
            if len(_DETAILS) >= MAX_DETAILS:
                _DETAILS.clear()
            details = _DETAILS[key] = (
                callsite.app_stack(depth=4),
                callsite.relation_hint(depth=4),
            )
        entry.stack, entry.hint = details

    def findings(self) -> list[Finding]:
        return [
            Finding(
                fingerprint=e.fp.id,
                sql=e.fp.sql,
                alias=e.alias,
                view=self.name,
                call_site=callsite.format_site(e.site),
                count=e.count,
                total_ms=e.total_ns / 1e6,
                hint=e.hint,
                stack=e.stack,
            )
            for e in self.repeats.values()
            if e.confirmed and e.count >= self.min_count and e.total_ns >= self.min_total_ns
        ]


#: the scope queries are attributed to (None: outside any scope)
current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "django_dbopt_scope", default=None
)
#: extra scopes that also see every query (test helpers), innermost last
watchers: contextvars.ContextVar[tuple[Scope, ...]] = contextvars.ContextVar(
    "django_dbopt_watchers", default=()
)
#: True while the monitor's own work (flushing, EXPLAIN) runs: those queries are not recorded
suppressed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "django_dbopt_suppressed", default=False
)
