"""``run_benchmark(options)``: the whole run, as plain data (the JSON report).

Order: environment and calibration; the scratch tables; each workload under its load
pattern (monitor findings collected all along); index advice while the tables exist;
the A/B rounds; server and process deltas; grades; comparison with history; stored.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django_dbopt.benchmark import ab as ab_module
from django_dbopt.benchmark import cache_workloads, replica_workloads, results, workloads
from django_dbopt.benchmark.ab import PARTS
from django_dbopt.benchmark.calibration import calibrate
from django_dbopt.benchmark.environment import (
    Resources,
    delta,
    environment,
    pg_stat_database,
    pg_stat_statements,
    statements_delta,
)
from django_dbopt.benchmark.grades import grade
from django_dbopt.benchmark.history import compare_all, store, workload_key
from django_dbopt.benchmark.load import LoadPattern, LoadResult, run_load
from django_dbopt.benchmark.presets import PRESETS
from django_dbopt.benchmark.recommend import (
    FindingsCollector,
    cache_candidates,
    describe,
    index_advice,
)
from django_dbopt.benchmark.scratch import BenchmarkError, ScratchSet, scratch_tables
from django_dbopt.benchmark.user_workloads import user_workload
from django_dbopt.benchmark.workloads import Workload
from django_dbopt.conf import get_config

SCHEMA_VERSION = 1
BUILTIN = ("crud", "complex", "transactions", "cache", "replica")

#: ``progress(message, fraction)``: fraction of the current step, or None for a new step
Progress = Callable[[str, float | None], None]


@dataclass
class Options:
    alias: str = "default"
    preset: str = "light"
    workloads: tuple[str, ...] = BUILTIN
    user: list[str] = field(default_factory=list)
    mode: str = "closed"
    concurrency: int | None = None
    duration_s: float | None = None
    warmup_s: float | None = None
    rate: float | None = None
    trials: int | None = None
    ab: bool = True
    ab_parts: tuple[str, ...] = PARTS
    ab_rounds: int | None = None
    compare: int | None = None
    store: bool | None = None
    label: str = ""
    keep_tables: bool = False
    calibrate: bool = True

    def pattern(self) -> LoadPattern:
        preset = PRESETS[self.preset]
        return LoadPattern(
            mode=self.mode,
            concurrency=self.concurrency or preset.concurrency,
            duration_s=self.duration_s if self.duration_s is not None else preset.duration_s,
            warmup_s=self.warmup_s if self.warmup_s is not None else preset.warmup_s,
            rate=self.rate or (preset.rate if self.mode == "open" else None),
            trials=self.trials or preset.trials,
        )


def _builtin(name: str, scratch: ScratchSet) -> Workload | str:
    """The workload, or why it cannot run here."""
    if name == "cache":
        reason = cache_workloads.unavailable()
        return reason or cache_workloads.cache_workload(scratch)
    if name == "replica":
        reason = replica_workloads.unavailable(scratch.alias)
        return reason or replica_workloads.replica_workload(scratch)
    makers = {
        "crud": workloads.crud,
        "complex": workloads.complex_queries,
        "transactions": workloads.transactions,
    }
    if name not in makers:
        raise BenchmarkError(f"unknown workload {name!r}; choose from {', '.join(BUILTIN)}")
    return makers[name](scratch)


def _run_one(
    workload: Workload, pattern: LoadPattern, scratch: ScratchSet, progress: Progress
) -> tuple[dict[str, Any], LoadResult]:
    progress(f"workload {workload.name}: {pattern.describe()}", None)
    with workload.context():
        before = workload.counters() if workload.counters else {}
        loaded = run_load(
            workload.op,
            pattern,
            setup=workload.setup,
            progress=lambda fraction, ops: progress(f"{workload.name}: {ops} ops", fraction),
        )
        after = workload.counters() if workload.counters else {}
    spec = {**workload.spec, "items": scratch.items, "authors": scratch.authors}
    key = workload_key(workload.name, spec, asdict(pattern))
    counters = {k: after[k] - before.get(k, 0) for k in after}
    return results.workload_result(
        workload.name, workload.description, key, loaded, counters
    ), loaded


def _server_figures(alias: str) -> tuple[float | None, float | None]:
    """(largest replica lag seen now, pool usage at peak) or None where not measurable."""
    from django_dbopt.pool.stats import pool_stats
    from django_dbopt.routing import status

    lags = [r.lag_s for r in status().replicas if r.lag_s is not None]
    stats = pool_stats(alias)
    usage = None
    if stats and stats.get("pool_max") and "peak_in_use" in stats:
        usage = stats["peak_in_use"] / stats["pool_max"]
    return (max(lags) if lags else None), usage


def _workloads_and_ab(
    options: Options, scratch: ScratchSet, pattern: LoadPattern, progress: Progress
) -> tuple[list[dict[str, Any]], list[LoadResult], list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    loads: list[LoadResult] = []
    if replica_workloads.unavailable(scratch.alias) is None:
        from django_dbopt.routing import status

        status(refresh=True)  # replicas in rotation from the first read, in every run
    planned: list[Workload | tuple[str, str]] = []
    for name in options.workloads:
        made = _builtin(name, scratch)
        planned.append((name, made) if isinstance(made, str) else made)
    planned.extend(user_workload(spec) for spec in options.user)
    for item in planned:
        if isinstance(item, tuple):
            out.append({"name": item[0], "skipped": item[1]})
            progress(f"workload {item[0]}: skipped ({item[1]})", None)
            continue
        result, loaded = _run_one(item, pattern, scratch, progress)
        out.append(result)
        loads.append(loaded)
    ab_results: list[dict[str, Any]] = []
    if options.ab:
        preset = PRESETS[options.preset]
        ab_pattern = LoadPattern(
            concurrency=pattern.concurrency,
            duration_s=preset.ab_duration_s if options.duration_s is None else pattern.duration_s,
            warmup_s=min(pattern.warmup_s, 0.2),
            trials=1,
        )
        ab_results = ab_module.run_ab(
            scratch,
            ab_pattern,
            options.ab_rounds or preset.ab_rounds,
            options.ab_parts,
            progress=lambda text: progress(text, None),
        )
    return out, loads, ab_results


def run_benchmark(options: Options, progress: Progress | None = None) -> dict[str, Any]:
    say: Progress = progress or (lambda message, fraction: None)
    if options.preset not in PRESETS:
        raise BenchmarkError(
            f"unknown preset {options.preset!r}; choose from {', '.join(PRESETS)}"
        )
    config = get_config().benchmark
    pattern = options.pattern()
    began = time.monotonic()
    env = environment(options.alias)
    say("calibrating: SELECT 1 round trips", None)
    floor = calibrate(options.alias) if options.calibrate else None
    server_before = pg_stat_database(options.alias)
    statements_before = pg_stat_statements(options.alias)
    usage = Resources.start()
    preset = PRESETS[options.preset]
    with (
        FindingsCollector() as collector,
        scratch_tables(
            options.alias, preset.authors, preset.items, keep=options.keep_tables
        ) as scratch,
    ):
        done, loads, ab_results = _workloads_and_ab(options, scratch, pattern, say)
        indexes = index_advice(results.merged_fingerprints(loads), options.alias)
    process = usage.stop()
    server = delta(server_before, pg_stat_database(options.alias))
    statements = statements_delta(statements_before, pg_stat_statements(options.alias))
    lag, pool_usage = _server_figures(options.alias)
    targets = {k.lower(): float(v) for k, v in config.targets.items()}
    graded = grade(results.measured_for_grades(done, lag, pool_usage), targets)
    ran = [w for w in done if "ops" in w]
    should_store = config.store_history if options.store is None else options.store
    # comparing only reads the history: a run that is not stored is compared too
    compare_all(
        ran,
        options.alias,
        env["env_key"],
        against=options.compare,
        runs=config.baseline_runs,
        min_effect=config.min_effect,
        alpha=config.alpha,
        floor_ms=floor["p50_ms"] if floor else None,
    )
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "label": options.label,
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 2),
        "pattern": {"preset": options.preset, **asdict(pattern)},
        "environment": env,
        "calibration": floor,
        "workloads": done,
        "ab": ab_results,
        "resources": {
            "process": process,
            "pg_stat_database": server,
            "pg_stat_statements": statements,
        },
        "grades": graded,
        "regressions": sum(
            1 for w in ran if w.get("comparison", {}).get("status") == "regression"
        ),
        "recommendations": [
            *describe(collector),
            *indexes,
            *cache_candidates(results.merged_fingerprints(loads)),
        ],
        "run_id": None,
    }
    if should_store:
        report["run_id"] = store(report, options.alias)
    return report
