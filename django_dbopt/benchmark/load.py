"""Load generation: a closed loop at concurrency N, or an open loop at a fixed rate.

Closed loop: each of N threads starts its next operation when the previous one ends, so
a stall of the server also stops the clock that would have sent more work: latency is
measured from each operation's actual start (what most tools do, and why they hide
stalls).

Open loop: operation ``i`` is *scheduled* at ``start + i / rate``; N threads take the
next schedule slot, wait for it if it is in the future, run, and measure latency from
the **scheduled** time. When the server stalls, the operations that should have been
sent meanwhile are late, and their lateness counts (coordinated omission corrected, as
wrk2 and pgbench ``-R`` do). Slots the threads could not start within ``GRACE_S`` after
the end are reported as ``unfinished``.

Each operation returns an optional label (``"read"``, ``"update"`` ...): latencies are
kept per label as well. The measured span is cut into ``trials`` equal windows; each
window's operation count and mean latency are the repeated trials the regression test
compares.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from django_dbopt.monitor import histogram
from django_dbopt.monitor.scope import Scope, watchers

Operation = Callable[["Worker"], "str | None"]

#: how long after the end an open loop may keep working off late slots
GRACE_S = 2.0
#: at most this many distinct error messages are kept
MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class LoadPattern:
    mode: str = "closed"  # "closed" or "open"
    concurrency: int = 2
    duration_s: float = 2.0
    warmup_s: float = 0.5
    rate: float | None = None  # operations per second (open loop)
    trials: int = 3

    def describe(self) -> str:
        text = f"{self.mode} loop, concurrency {self.concurrency}"
        if self.mode == "open":
            text += f", {self.rate:g} ops/s scheduled"
        return f"{text}, {self.duration_s:g}s (+{self.warmup_s:g}s warm-up)"


@dataclass
class Worker:
    """Per-thread state handed to each operation."""

    index: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadResult:
    pattern: LoadPattern
    hist: dict[int, int] = field(default_factory=dict)
    labels: dict[str, dict[int, int]] = field(default_factory=dict)
    ops: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    unfinished: int = 0
    max_ns: int = 0
    #: per trial window: [operations, summed latency in ns]
    windows: list[list[int]] = field(default_factory=list)
    #: queries that reached a database during measured operations, per fingerprint
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def query_count(self) -> int:
        return sum(q["count"] for q in self.queries.values())

    @property
    def db_ns(self) -> int:
        return sum(q["total_ns"] for q in self.queries.values())

    def trial_means_ms(self) -> list[float]:
        return [s / n / 1e6 for n, s in self.windows if n]

    def trial_throughputs(self) -> list[float]:
        width = self.pattern.duration_s / max(len(self.windows), 1)
        return [n / width for n, _ in self.windows]


class _Shared:
    """What the threads of one run share (merged under a lock when each thread ends)."""

    def __init__(self, pattern: LoadPattern, count_queries: bool = True) -> None:
        self.pattern = pattern
        self.count_queries = count_queries
        self.lock = threading.Lock()
        self.result = LoadResult(pattern, windows=[[0, 0] for _ in range(pattern.trials)])
        self.slots = itertools.count()
        self.done_ops = 0  # for progress (approximate, unlocked reads)
        now = time.perf_counter_ns()
        self.start_ns = now
        self.measure_ns = now + round(pattern.warmup_s * 1e9)
        self.end_ns = self.measure_ns + round(pattern.duration_s * 1e9)
        self.span_ns = max(self.end_ns - self.measure_ns, 1)

    def window_of(self, at_ns: int) -> int:
        trials = self.pattern.trials
        return min((at_ns - self.measure_ns) * trials // self.span_ns, trials - 1)


class _Local:
    def __init__(self, shared: _Shared) -> None:
        self.shared = shared
        self.hist: dict[int, int] = {}
        self.labels: dict[str, dict[int, int]] = {}
        self.windows = [[0, 0] for _ in range(shared.pattern.trials)]
        self.ops = self.errors = self.max_ns = 0
        self.errors_seen: list[str] = []
        self.watch: Scope | None = None

    def measure(self) -> None:
        """From the first measured operation on, count this thread's queries."""
        if self.watch is None and self.shared.count_queries:
            self.watch = Scope("benchmark", min_count=2**62, min_total_ns=0)
            watchers.set((*watchers.get(), self.watch))

    def add(self, label: str | None, scheduled_ns: int, latency_ns: int) -> None:
        bucket = histogram.bucket_of(latency_ns)
        self.hist[bucket] = self.hist.get(bucket, 0) + 1
        if label:
            sub = self.labels.setdefault(label, {})
            sub[bucket] = sub.get(bucket, 0) + 1
        self.max_ns = max(self.max_ns, latency_ns)
        window = self.windows[self.shared.window_of(scheduled_ns)]
        window[0] += 1
        window[1] += latency_ns
        self.ops += 1
        self.shared.done_ops += 1

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        text = f"{type(exc).__name__}: {exc}".strip()[:300]
        if len(self.errors_seen) < MAX_ERROR_SAMPLES and text not in self.errors_seen:
            self.errors_seen.append(text)

    def merge(self) -> None:
        result = self.shared.result
        with self.shared.lock:
            histogram.merge(result.hist, self.hist)
            for label, sub in self.labels.items():
                histogram.merge(result.labels.setdefault(label, {}), sub)
            for total, mine in zip(result.windows, self.windows, strict=True):
                total[0] += mine[0]
                total[1] += mine[1]
            result.ops += self.ops
            result.max_ns = max(result.max_ns, self.max_ns)
            result.errors += self.errors
            for text in self.errors_seen:
                if len(result.error_samples) < MAX_ERROR_SAMPLES and text not in (
                    result.error_samples
                ):
                    result.error_samples.append(text)
            if self.watch is not None:
                for entry in self.watch.repeats.values():
                    held = result.queries.setdefault(
                        entry.fp.id,
                        {"sql": entry.fp.sql, "aliases": {}, "count": 0, "total_ns": 0},
                    )
                    held["count"] += entry.count
                    held["total_ns"] += entry.total_ns
                    held["aliases"][entry.alias] = held["aliases"].get(entry.alias, 0) + (
                        entry.count
                    )


def _call(op: Operation, worker: Worker, local: _Local) -> tuple[str | None, bool]:
    try:
        return op(worker), True
    except Exception as e:  # noqa: BLE001  (a benchmark counts every failure of the code under test)
        local.error(e)
        return None, False


def _closed(op: Operation, worker: Worker, local: _Local) -> None:
    shared = local.shared
    while True:
        began = time.perf_counter_ns()
        if began >= shared.end_ns:
            return
        measured = began >= shared.measure_ns
        if measured:
            local.measure()
        label, ok = _call(op, worker, local)
        if measured and ok:
            local.add(label, began, time.perf_counter_ns() - began)


def _open(op: Operation, worker: Worker, local: _Local) -> None:
    shared = local.shared
    assert shared.pattern.rate  # checked by run_load
    interval_ns = 1e9 / shared.pattern.rate
    hard_end = shared.end_ns + round(GRACE_S * 1e9)
    while True:
        slot = next(shared.slots)
        scheduled = shared.start_ns + round(slot * interval_ns)
        if scheduled >= shared.end_ns:
            return
        now = time.perf_counter_ns()
        if now >= hard_end:
            if scheduled >= shared.measure_ns:
                with shared.lock:
                    shared.result.unfinished += 1
            continue
        if scheduled > now:
            time.sleep((scheduled - now) / 1e9)  # the schedule, not a wait for a condition
        measured = scheduled >= shared.measure_ns
        if measured:
            local.measure()
        label, ok = _call(op, worker, local)
        if measured and ok:
            local.add(label, scheduled, time.perf_counter_ns() - scheduled)


def _thread_main(
    op: Operation, index: int, shared: _Shared, setup: Callable[[Worker], None] | None
) -> None:
    worker = Worker(index)
    local = _Local(shared)
    try:
        if setup is not None:
            try:
                setup(worker)
            except Exception as e:  # noqa: BLE001  (counted: the thread then does no work)
                local.error(e)
                return
        if shared.pattern.mode == "open":
            _open(op, worker, local)
        else:
            _closed(op, worker, local)
    finally:
        local.merge()
        connections.close_all()  # this thread's connections (they are per thread)


def run_load(
    op: Operation,
    pattern: LoadPattern,
    *,
    setup: Callable[[Worker], None] | None = None,
    progress: Callable[[float, int], None] | None = None,
    count_queries: bool = True,
) -> LoadResult:
    """Run ``op`` under ``pattern`` in ``pattern.concurrency`` threads; merge results.

    ``progress(fraction_done, operations_so_far)`` is called from this thread about
    five times a second while the load runs. ``count_queries=False``: no per-query
    bookkeeping of the benchmark's own (for the monitor's A/B, whose "off" side must not
    pay for a watcher).
    """
    if pattern.mode == "open" and not pattern.rate:
        raise ValueError("an open loop needs a rate")
    shared = _Shared(pattern, count_queries)
    threads = [
        threading.Thread(
            target=_thread_main, args=(op, n, shared, setup), name=f"dbopt-bench-{n}", daemon=True
        )
        for n in range(pattern.concurrency)
    ]
    for thread in threads:
        thread.start()
    total = (shared.end_ns - shared.start_ns) / 1e9
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
            if progress is not None:
                elapsed = (time.perf_counter_ns() - shared.start_ns) / 1e9
                progress(min(elapsed / total, 1.0), shared.done_ops)
    shared.result.wall_s = (time.perf_counter_ns() - shared.measure_ns) / 1e9
    return shared.result
