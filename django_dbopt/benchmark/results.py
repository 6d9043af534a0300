"""Turn a load run into the report's plain data (the JSON schema's ``workload``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django_dbopt.benchmark.load import LoadResult
from django_dbopt.monitor import histogram

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p99_9", 0.999))
TOP_FINGERPRINTS = 5


def latency_ms(hist: Mapping[int, int], max_ns: int | None = None) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, q in QUANTILES:
        value = histogram.percentile(hist, q)
        if value is not None and max_ns is not None:
            value = min(value, max_ns)  # a bucket's midpoint may lie above the largest value
        out[name] = None if value is None else round(value / 1e6, 4)
    if max_ns is not None:
        out["max"] = round(max_ns / 1e6, 4) if hist else None
    return out


def top_fingerprints(queries: Mapping[str, dict[str, Any]], n: int) -> list[dict[str, Any]]:
    ranked = sorted(queries.items(), key=lambda kv: -kv[1]["total_ns"])[:n]
    return [
        {
            "id": fp,
            "sql": q["sql"][:500],
            "count": q["count"],
            "total_ms": round(q["total_ns"] / 1e6, 3),
            "aliases": dict(q["aliases"]),
        }
        for fp, q in ranked
    ]


def workload_result(
    name: str, description: str, key: str, result: LoadResult, counters: dict[str, int]
) -> dict[str, Any]:
    ops = result.ops
    total_ns = sum(s for _, s in result.windows)
    queries = result.query_count
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "key": key,
        "ops": ops,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "unfinished": result.unfinished,
        "throughput": round(ops / result.pattern.duration_s, 2),
        "latency_ms": {
            **latency_ms(result.hist, result.max_ns),
            "mean": round(total_ns / ops / 1e6, 4) if ops else None,
        },
        "operations": {
            label: {"ops": sum(h.values()), **latency_ms(h)}
            for label, h in sorted(result.labels.items())
        },
        "queries": {
            "count": queries,
            "per_op": round(queries / ops, 3) if ops else None,
            "db_ms": round(result.db_ns / 1e6, 3),
            "avg_ms": round(result.db_ns / queries / 1e6, 4) if queries else None,
        },
        "top_fingerprints": top_fingerprints(result.queries, TOP_FINGERPRINTS),
        "trial_means_ms": [round(m, 5) for m in result.trial_means_ms()],
        "trial_throughputs": [round(t, 2) for t in result.trial_throughputs()],
        "histogram": histogram.to_json(result.hist),
        "counters": counters,
    }
    hits, misses = counters.get("cache_hits"), counters.get("cache_misses")
    if hits is not None and misses is not None and hits + misses:
        out["cache_hit_ratio"] = round(hits / (hits + misses), 4)
    return out


def merged_fingerprints(results: Iterable[LoadResult]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for result in results:
        for fp, q in result.queries.items():
            held = merged.setdefault(fp, {"id": fp, "sql": q["sql"], "count": 0, "total_ns": 0})
            held["count"] += q["count"]
            held["total_ns"] += q["total_ns"]
    return list(merged.values())


def measured_for_grades(
    workloads: list[dict[str, Any]], lag_s: float | None, pool_usage: float | None
) -> dict[str, float | None]:
    ran = [w for w in workloads if "ops" in w]
    queries = sum(w["queries"]["count"] for w in ran)
    db_ms = sum(w["queries"]["db_ms"] for w in ran)
    attempts = sum(w["ops"] + w["errors"] + w["unfinished"] for w in ran)
    errors = sum(w["errors"] + w["unfinished"] for w in ran)
    merged: dict[int, int] = {}
    for w in ran:
        histogram.merge(merged, histogram.from_json(w["histogram"]))
    p99 = histogram.percentile(merged, 0.99)
    ratios = [w["cache_hit_ratio"] for w in ran if "cache_hit_ratio" in w]
    return {
        "avg_query_ms": db_ms / queries if queries else None,
        "p99_ms": p99 / 1e6 if p99 is not None else None,
        "error_rate": errors / attempts if attempts else None,
        "cache_hit_ratio": min(ratios) if ratios else None,
        "replica_lag_s": lag_s,
        "pool_usage": pool_usage,
    }
