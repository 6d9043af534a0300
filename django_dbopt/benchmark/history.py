"""Run history and regression detection.

Every run is stored as a ``BenchmarkRun`` (its JSON report). Each workload result of a
new run is compared with the same workload (same name, parameters and load pattern:
its ``key``) in earlier runs of the same environment (``env_key``), or in the run named
by ``--compare``. The compared samples are per-trial mean latencies (the measured span
of each workload is cut into ``trials`` windows):

- **regression**: a one-sided Mann-Whitney U test says the new trials are slower
  (p < ``ALPHA``) *and* the median slowed down by at least ``MIN_EFFECT``;
- **improvement**: the same, the other way;
- otherwise **unchanged** (or **no baseline**).

The baseline is the trials of up to ``BASELINE_RUNS`` most recent earlier runs in which
that workload was not itself flagged as a regression, so one bad run does not become
the norm. With 3 trials against 9 the smallest possible p is 1/220.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
from typing import Any

from django.db import DatabaseError

from django_dbopt.benchmark.models import BenchmarkRun
from django_dbopt.benchmark.scratch import BenchmarkError
from django_dbopt.benchmark.stats import bootstrap_ratio, mann_whitney_greater

logger = logging.getLogger("django_dbopt.benchmark")
SCAN_RUNS = 50


def workload_key(name: str, spec: dict[str, Any], pattern: dict[str, Any]) -> str:
    blob = json.dumps({"name": name, "spec": spec, "pattern": pattern}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def store(report: dict[str, Any], alias: str) -> int | None:
    """Save the run; None (logged) when the table is missing or the database refuses."""
    try:
        run = BenchmarkRun.objects.using(alias).create(
            label=report["label"],
            preset=report["pattern"]["preset"],
            env_key=report["environment"]["env_key"],
            duration_s=report["duration_s"],
            grade=report["grades"]["overall"] or "",
            regressions=report["regressions"],
            report=report,
        )
    except DatabaseError as e:
        logger.warning("benchmark run not stored (has `manage.py migrate` run?): %s", e)
        return None
    return run.pk


def _workloads(run: BenchmarkRun) -> list[dict[str, Any]]:
    return list(run.report.get("workloads", []))


def load_run(alias: str, run_id: int) -> BenchmarkRun:
    try:
        return BenchmarkRun.objects.using(alias).get(pk=run_id)
    except BenchmarkRun.DoesNotExist as e:
        raise BenchmarkError(f"no stored benchmark run #{run_id}") from e
    except DatabaseError as e:
        raise BenchmarkError(f"benchmark history unavailable: {e}") from e


def baselines(
    alias: str, env_key: str, keys: set[str], runs: int
) -> dict[str, tuple[list[float], list[int]]]:
    """key -> (trial means in ms, ids of the runs they come from)."""
    out: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in keys}
    try:
        recent = list(BenchmarkRun.objects.using(alias).filter(env_key=env_key)[:SCAN_RUNS])
    except DatabaseError as e:
        logger.warning("benchmark history unavailable: %s", e)
        return out
    for run in recent:
        for result in _workloads(run):
            key = result.get("key")
            if key not in out or len(out[key][1]) >= runs:
                continue
            if result.get("comparison", {}).get("status") == "regression":
                continue
            means = result.get("trial_means_ms") or []
            if means:
                out[key][0].extend(means)
                out[key][1].append(run.pk)
    return out


def compare(
    current: list[float], baseline: list[float], *, min_effect: float, alpha: float
) -> dict[str, Any]:
    if len(current) < 2 or len(baseline) < 2:
        return {"status": "no baseline", "baseline_trials": len(baseline)}
    effect = statistics.median(current) / statistics.median(baseline) - 1
    _, p_slower = mann_whitney_greater(current, baseline)
    _, p_faster = mann_whitney_greater(baseline, current)
    ratio = bootstrap_ratio(current, baseline, paired=False)
    if p_slower < alpha and effect >= min_effect:
        status = "regression"
    elif p_faster < alpha and effect <= -min_effect:
        status = "improvement"
    else:
        status = "unchanged"
    return {
        "status": status,
        "effect": effect,
        "p_slower": p_slower,
        "p_faster": p_faster,
        "latency_ratio": ratio.as_dict() if ratio else None,
        "baseline_trials": len(baseline),
        "min_effect": min_effect,
        "alpha": alpha,
    }


def compare_all(
    results: list[dict[str, Any]],
    alias: str,
    env_key: str,
    *,
    against: int | None,
    runs: int,
    min_effect: float,
    alpha: float,
    floor_ms: float | None = None,
) -> None:
    """Fill each result's ``comparison`` in place.

    ``floor_ms``: this run's calibration P50; each comparison then also says how much the
    database floor moved since its baseline runs (``floor_change``), so a busier machine
    can be told from slower code when reading a flag (the flag itself is not adjusted).
    """
    keys = {r["key"] for r in results}
    if against is not None:
        run = load_run(alias, against)
        found = {r.get("key"): r for r in _workloads(run)}
        base = {k: (found[k].get("trial_means_ms") or [], [run.pk]) for k in keys if k in found}
    else:
        base = baselines(alias, env_key, keys, runs)
    for result in results:
        means, run_ids = base.get(result["key"], ([], []))
        comparison = compare(
            result.get("trial_means_ms") or [], means, min_effect=min_effect, alpha=alpha
        )
        comparison["baseline_runs"] = run_ids
        comparison["floor_change"] = _floor_change(alias, run_ids, floor_ms)
        result["comparison"] = comparison


def _floor_change(alias: str, run_ids: list[int], floor_ms: float | None) -> float | None:
    if not floor_ms or not run_ids:
        return None
    try:
        reports = (
            BenchmarkRun.objects.using(alias)
            .filter(pk__in=run_ids)
            .values_list("report", flat=True)
        )
        floors = [(r.get("calibration") or {}).get("p50_ms") for r in reports]
    except DatabaseError as e:
        logger.warning("benchmark history unavailable: %s", e)
        return None
    known = [f for f in floors if f]
    return floor_ms / statistics.median(known) - 1 if known else None
