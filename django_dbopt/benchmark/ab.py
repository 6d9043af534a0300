"""A/B of django-dbopt itself: each part off and on, in interleaved rounds.

For each part the same operation runs with the part off and on, alternating the order
every round (off/on, on/off, ...) so that drift of a shared machine falls on both sides.
Each round gives a throughput (and queries that reached a database per operation); the
report is the ratio on/off of their means with a paired bootstrap 95 % interval over
the rounds.

- ``monitor``: a "request" of 5 primary-key reads, ``MONITOR.ENABLED`` off vs on;
- ``cache``: 9 primary-key reads of a read-mostly table (authors) for 1 update of
  another (items), in one request each, ORM caching of the scratch tables off vs on:
  *queries that reached the database* is the load the cache took off the database.
  (Invalidation is per table: a table written as often as it is read gains nothing,
  which the ``cache`` workload's ``orm-miss`` shows). Reads served by a replica never
  fill the ORM cache (``cache/orm.py``), so with replicas a second row,
  ``cache-primary``, measures the same with the reads forced to the primary;
- ``router``: reads (a filtered list), ``ReplicaRouter`` out of ``DATABASE_ROUTERS`` vs
  in: *read throughput with the replica*, and the share of reads a replica served;
- ``pool``: a "request" (a read, then the connection closed, as ``CONN_MAX_AGE = 0``
  does at the end of a request), Django's pool bypassed vs used.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from django.db import connections
from django.db.models import F

from django_dbopt.benchmark import cache_workloads, replica_workloads, toggles
from django_dbopt.benchmark.load import LoadPattern, LoadResult, Operation, Worker, run_load
from django_dbopt.benchmark.models import ScratchAuthor, ScratchItem
from django_dbopt.benchmark.scratch import STATUSES, ScratchSet, replicas_of
from django_dbopt.benchmark.stats import bootstrap_ratio
from django_dbopt.benchmark.workloads import _rng, in_scope
from django_dbopt.routing import use_primary

PARTS = ("monitor", "cache", "router", "pool")


@dataclass
class Part:
    name: str
    question: str
    toggle: Callable[[bool], AbstractContextManager[Any]]
    op: Operation
    unavailable: str | None = None


def _monitor_part(scratch: ScratchSet) -> Part:
    pks = scratch.item_pks

    def op(worker: Worker) -> None:
        rng = _rng(worker)
        with in_scope("ab-monitor"):
            for _ in range(5):
                ScratchItem.objects.get(pk=rng.choice(pks))

    return Part("monitor", "throughput with the query monitor on", toggles.monitor, op)


def _cache_part(scratch: ScratchSet, on_primary: bool = False) -> Part:
    alias, authors, items = scratch.alias, scratch.author_pks, scratch.item_pks

    def op(worker: Worker) -> None:
        rng = _rng(worker)
        where = use_primary() if on_primary else contextlib.nullcontext()
        with in_scope("ab-cache"), where:
            if rng.random() < 0.1:
                ScratchItem.objects.using(alias).filter(pk=rng.choice(items)).update(
                    counter=F("counter") + 1
                )
            else:
                ScratchAuthor.objects.get(pk=rng.choice(authors))

    return Part(
        "cache-primary" if on_primary else "cache",
        "queries that reached the database, and throughput, with the ORM cache on"
        + (" (reads forced to the primary)" if on_primary else ""),
        toggles.orm_cache,
        op,
        cache_workloads.unavailable(),
    )


def _router_part(scratch: ScratchSet) -> Part:
    def op(worker: Worker) -> None:
        rng = _rng(worker)
        list(ScratchItem.objects.filter(status=rng.choice(STATUSES)).order_by("-score")[:20])

    return Part(
        "router",
        "read throughput with the replica router (reads on replicas)",
        toggles.router,
        op,
        replica_workloads.unavailable(scratch.alias),
    )


def _pool_part(scratch: ScratchSet) -> Part:
    alias, pks = scratch.alias, scratch.item_pks
    configured = connections.settings[alias].get("OPTIONS", {}).get("pool")

    def op(worker: Worker) -> None:
        ScratchItem.objects.using(alias).get(pk=_rng(worker).choice(pks))
        connections[alias].close()  # the end of a request with CONN_MAX_AGE = 0

    def toggle(enabled: bool) -> AbstractContextManager[None]:
        return toggles.pool(alias, enabled)

    reason = None if configured else f"no pool in DATABASES[{alias!r}]['OPTIONS']"
    return Part("pool", "request throughput with the connection pool", toggle, op, reason)


def build_parts(scratch: ScratchSet, names: tuple[str, ...] = PARTS) -> list[Part]:
    makers = {
        "monitor": _monitor_part,
        "cache": _cache_part,
        "router": _router_part,
        "pool": _pool_part,
    }
    parts = [makers[name](scratch) for name in names]
    if "cache" in names and replica_workloads.unavailable(scratch.alias) is None:
        # Reads from a replica never fill the ORM cache (cache/orm.py): with replicas, also
        # measure what it buys reads on the primary.
        parts.insert(names.index("cache") + 1, _cache_part(scratch, on_primary=True))
    return parts


def _measure(result: LoadResult) -> dict[str, float]:
    ops = max(result.ops, 1)
    replica_reads = sum(
        count
        for q in result.queries.values()
        for alias, count in q["aliases"].items()
        if alias in _replica_aliases()
    )
    return {
        "throughput": result.ops / result.pattern.duration_s,
        "queries_per_op": result.query_count / ops,
        "replica_share": replica_reads / max(result.query_count, 1),
        "errors": result.errors,
    }


def _replica_aliases() -> set[str]:
    return {r for primary in connections for r in replicas_of(primary)}


def _summarize(part: Part, rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    on = [r["on"] for r in rounds]
    off = [r["off"] for r in rounds]
    out: dict[str, Any] = {
        "part": part.name,
        "question": part.question,
        "rounds": len(rounds),
        "on": {k: [round(m[k], 4) for m in on] for k in on[0]},
        "off": {k: [round(m[k], 4) for m in off] for k in off[0]},
    }
    throughput = bootstrap_ratio([m["throughput"] for m in on], [m["throughput"] for m in off])
    out["throughput_ratio"] = throughput.as_dict() if throughput else None
    queries = bootstrap_ratio(
        [m["queries_per_op"] for m in on], [m["queries_per_op"] for m in off]
    )
    out["queries_ratio"] = queries.as_dict() if queries else None
    if part.name.startswith("cache") and queries is not None:
        out["queries_saved"] = 1 - queries.value
    if part.name == "router":
        out["replica_share_on"] = statistics.fmean(m["replica_share"] for m in on)
    return out


def run_ab(
    scratch: ScratchSet,
    pattern: LoadPattern,
    rounds: int,
    names: tuple[str, ...] = PARTS,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every available part's A/B; unavailable ones are reported with the reason."""
    if replica_workloads.unavailable(scratch.alias) is None:
        from django_dbopt.routing import status

        status(refresh=True)
    results: list[dict[str, Any]] = []
    round_pattern = replace(pattern, mode="closed", trials=1)
    for part in build_parts(scratch, names):
        if part.unavailable:
            results.append(
                {"part": part.name, "question": part.question, "skipped": part.unavailable}
            )
            continue
        measured: list[dict[str, dict[str, float]]] = []
        for number in range(rounds):
            order = (False, True) if number % 2 == 0 else (True, False)
            row: dict[str, dict[str, float]] = {}
            for enabled in order:
                with part.toggle(enabled):
                    loaded = run_load(part.op, round_pattern, count_queries=part.name != "monitor")
                    row["on" if enabled else "off"] = _measure(loaded)
            measured.append(row)
            if progress is not None:
                progress(f"A/B {part.name}: round {number + 1}/{rounds}")
        results.append(_summarize(part, measured))
    return results
