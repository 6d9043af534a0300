"""Assertions for your own test suite, using the same fingerprints as production.

    from django_dbopt.monitor.testing import assert_no_nplusone, query_budget

    def test_task_list(client):
        with query_budget(max_queries=5), assert_no_nplusone():
            client.get("/tasks/")

Both watch every query run in the block on any connection (including requests made
through Django's test client). ``assert_no_nplusone`` reads the call site of every query
(tests can afford it), so it is exact where production sampling is cheap, and its
default threshold is stricter: 2 repeats from one line, any duration. For pytest, enable
the plugin (``pytest -p django_dbopt.monitor.pytest_plugin`` or ``pytest_plugins`` in
your root ``conftest.py``) to get the ``query_budget`` and ``no_nplusone`` fixtures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django_dbopt.monitor.scope import Finding, Scope, watchers


@dataclass
class Watch:
    """What a block ran: ``queries``, ``total_ms``, per-fingerprint ``counts``, ``findings``."""

    scope: Scope
    findings: list[Finding] = field(default_factory=list)

    @property
    def queries(self) -> int:
        return self.scope.queries

    @property
    def total_ms(self) -> float:
        return self.scope.db_ns / 1e6

    @property
    def counts(self) -> dict[str, tuple[int, str]]:
        """``{fingerprint: (count, normalized sql)}``."""
        out: dict[str, tuple[int, str]] = {}
        for entry in self.scope.repeats.values():
            count, _ = out.get(entry.fp.id, (0, ""))
            out[entry.fp.id] = (count + entry.count, entry.fp.sql)
        return out

    def describe(self) -> str:
        lines = [
            f"  {count:>4} x {sql[:200]}"
            for count, sql in sorted(self.counts.values(), reverse=True)
        ]
        return "\n".join(lines)


@contextlib.contextmanager
def watch(min_count: int = 2, min_total_ms: float = 0.0) -> Iterator[Watch]:
    """Record the block's queries (exact call sites) without asserting anything."""
    scope = Scope("test", min_count, round(min_total_ms * 1e6), exact=True)
    result = Watch(scope)
    token = watchers.set((*watchers.get(), scope))
    try:
        yield result
    finally:
        watchers.reset(token)
        result.findings = scope.findings()


@contextlib.contextmanager
def query_budget(max_queries: int | None = None, max_ms: float | None = None) -> Iterator[Watch]:
    """Fail if the block runs more than ``max_queries`` queries or spends more than
    ``max_ms`` milliseconds in the database."""
    with watch() as result:
        yield result
    if max_queries is not None and result.queries > max_queries:
        raise AssertionError(
            f"{result.queries} queries ran, the budget is {max_queries}:\n{result.describe()}"
        )
    if max_ms is not None and result.total_ms > max_ms:
        raise AssertionError(
            f"queries took {result.total_ms:.1f} ms, the budget is {max_ms} ms:\n"
            f"{result.describe()}"
        )


@contextlib.contextmanager
def assert_no_nplusone(min_count: int = 2, min_total_ms: float = 0.0) -> Iterator[Watch]:
    """Fail if one query shape ran ``min_count`` times or more from one line of your code."""
    with watch(min_count, min_total_ms) as result:
        yield result
    if result.findings:
        details = "\n".join(
            f"  {f.count} x {f.sql[:200]}\n    at {f.call_site}"
            + (f"\n    hint: {f.hint}" if f.hint else "")
            for f in result.findings
        )
        raise AssertionError(f"N+1 queries detected:\n{details}")
