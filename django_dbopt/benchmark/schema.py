"""The JSON Schema (draft 2020-12) of ``dbopt_benchmark --format json`` (docs/benchmark.md).

Kept here, in code, so the tests validate real output against the documented schema.
"""

from __future__ import annotations

from typing import Any

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string"}

LATENCY = {
    "type": "object",
    "required": ["p50", "p95", "p99", "p99_9"],
    "properties": {k: _NUM_OR_NULL for k in ("p50", "p95", "p99", "p99_9", "max", "mean")},
}

RATIO = {
    "type": ["object", "null"],
    "required": ["ratio", "ci_low", "ci_high", "rounds"],
    "properties": {"ratio": _NUM, "ci_low": _NUM, "ci_high": _NUM, "rounds": _INT},
}

WORKLOAD_RUN = {
    "type": "object",
    "required": [
        "name",
        "description",
        "key",
        "ops",
        "errors",
        "error_samples",
        "unfinished",
        "throughput",
        "latency_ms",
        "operations",
        "queries",
        "top_fingerprints",
        "trial_means_ms",
        "trial_throughputs",
        "histogram",
        "counters",
    ],
    "properties": {
        "name": _STR,
        "description": _STR,
        "key": _STR,
        "ops": _INT,
        "errors": _INT,
        "error_samples": {"type": "array", "items": _STR},
        "unfinished": _INT,
        "throughput": _NUM,
        "latency_ms": LATENCY,
        "operations": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["ops", "p50", "p95", "p99"],
                "properties": {"ops": _INT},
            },
        },
        "queries": {
            "type": "object",
            "required": ["count", "per_op", "db_ms", "avg_ms"],
            "properties": {
                "count": _INT,
                "per_op": _NUM_OR_NULL,
                "db_ms": _NUM,
                "avg_ms": _NUM_OR_NULL,
            },
        },
        "top_fingerprints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "sql", "count", "total_ms", "aliases"],
                "properties": {
                    "id": _STR,
                    "sql": _STR,
                    "count": _INT,
                    "total_ms": _NUM,
                    "aliases": {"type": "object", "additionalProperties": _INT},
                },
            },
        },
        "trial_means_ms": {"type": "array", "items": _NUM},
        "trial_throughputs": {"type": "array", "items": _NUM},
        "histogram": {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]+$"},
            "additionalProperties": _INT,
        },
        "counters": {"type": "object", "additionalProperties": {"type": "integer"}},
        "cache_hit_ratio": _NUM,
        "comparison": {
            "type": "object",
            "required": ["status", "baseline_runs"],
            "properties": {
                "status": {"enum": ["regression", "improvement", "unchanged", "no baseline"]},
                "effect": _NUM,
                "p_slower": _NUM,
                "p_faster": _NUM,
                "latency_ratio": RATIO,
                "baseline_runs": {"type": "array", "items": {"type": "integer"}},
                "floor_change": _NUM_OR_NULL,
            },
        },
    },
}

SKIPPED = {
    "type": "object",
    "required": ["name", "skipped"],
    "properties": {"name": _STR, "skipped": _STR},
}

AB = {
    "type": "object",
    "required": ["part", "question"],
    "properties": {
        "part": {"enum": ["monitor", "cache", "cache-primary", "router", "pool"]},
        "question": _STR,
        "skipped": _STR,
        "rounds": _INT,
        "on": {"type": "object", "additionalProperties": {"type": "array", "items": _NUM}},
        "off": {"type": "object", "additionalProperties": {"type": "array", "items": _NUM}},
        "throughput_ratio": RATIO,
        "queries_ratio": RATIO,
        "queries_saved": _NUM,
        "replica_share_on": _NUM,
    },
}

GRADE = {
    "type": "object",
    "required": ["key", "grade", "value", "target", "explanation"],
    "properties": {
        "key": _STR,
        "grade": {"enum": ["A", "B", "C", "D", "F", None]},
        "value": _NUM_OR_NULL,
        "target": _NUM,
        "explanation": _STR,
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dbopt_benchmark report",
    "type": "object",
    "required": [
        "schema_version",
        "label",
        "started_at",
        "duration_s",
        "pattern",
        "environment",
        "calibration",
        "workloads",
        "ab",
        "resources",
        "grades",
        "regressions",
        "recommendations",
        "run_id",
    ],
    "properties": {
        "schema_version": {"const": 1},
        "label": _STR,
        "started_at": _STR,
        "duration_s": _NUM,
        "pattern": {
            "type": "object",
            "required": [
                "preset",
                "mode",
                "concurrency",
                "duration_s",
                "warmup_s",
                "rate",
                "trials",
            ],
            "properties": {
                "preset": {"enum": ["light", "medium", "heavy"]},
                "mode": {"enum": ["closed", "open"]},
                "concurrency": {"type": "integer", "minimum": 1},
                "duration_s": _NUM,
                "warmup_s": _NUM,
                "rate": _NUM_OR_NULL,
                "trials": {"type": "integer", "minimum": 1},
            },
        },
        "environment": {
            "type": "object",
            "required": [
                "python",
                "django",
                "django_dbopt",
                "cpus",
                "database",
                "parts",
                "env_key",
            ],
            "properties": {
                "database": {
                    "type": "object",
                    "required": ["alias", "vendor", "server"],
                },
                "parts": {
                    "type": "object",
                    "required": [
                        "monitor",
                        "router",
                        "replicas",
                        "cache_backend",
                        "orm_models",
                        "pool",
                    ],
                },
                "env_key": _STR,
            },
        },
        "calibration": {
            "type": ["object", "null"],
            "required": ["method", "iterations", "p50_ms", "p99_ms", "ops_per_s"],
        },
        "workloads": {"type": "array", "items": {"oneOf": [WORKLOAD_RUN, SKIPPED]}},
        "ab": {"type": "array", "items": AB},
        "resources": {
            "type": "object",
            "required": ["process", "pg_stat_database", "pg_stat_statements"],
            "properties": {
                "process": {
                    "type": "object",
                    "required": [
                        "wall_s",
                        "cpu_user_s",
                        "cpu_system_s",
                        "cpu_percent",
                        "rss_bytes",
                        "peak_rss_bytes",
                    ],
                },
                "pg_stat_database": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "integer"},
                },
                "pg_stat_statements": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "required": ["query", "calls", "total_ms"],
                        "properties": {"query": _STR, "calls": _INT, "total_ms": _NUM},
                    },
                },
            },
        },
        "grades": {
            "type": "object",
            "required": ["overall", "targets"],
            "properties": {
                "overall": {"enum": ["A", "B", "C", "D", "F", None]},
                "targets": {"type": "array", "items": GRADE},
            },
        },
        "regressions": _INT,
        "recommendations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "text"],
                "properties": {"kind": {"enum": ["n+1", "slow", "index", "cache"]}, "text": _STR},
            },
        },
        "run_id": {"type": ["integer", "null"]},
    },
}
