"""Alert rules: the seed's thresholds as defaults, overridden per rule in ``DBOPT``.

========================  =========  ==========  ===================================
rule                      fires when default      measured from
========================  =========  ==========  ===================================
``query_avg_ms``          above      50 ms       the monitor's stored buckets over
                                                 ``ALERTS.WINDOW_S`` (application
                                                 queries: not django-dbopt's own,
                                                 not commands)
``cache_hit_ratio``       below      0.8         the two-tier cache's hits and misses
                                                 per tier since the last evaluation
``pool_utilization``      above      0.9         each pool's connections in use / max
``replica_lag_s``         above      10 s        each replica's replay lag, probed
                                                 read-only
``backup_age_s``          above      (none)      an extension point: disabled until
                                                 ``MEASURE`` names a function
========================  =========  ==========  ===================================

Each rule has a ``THRESHOLD``, a duration the condition must hold (``FOR_S``) before it
fires, a ``SEVERITY`` (``"warning"`` or ``"critical"``) and ``ENABLED``; ``MEASURE`` (a
dotted path to a function returning ``Measurement`` s) replaces or provides the measure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from django.utils.module_loading import import_string

from django_dbopt.conf import get_config

Severity = Literal["warning", "critical"]
KEYS = ("THRESHOLD", "FOR_S", "SEVERITY", "ENABLED", "MEASURE")


@dataclass(frozen=True)
class Rule:
    name: str
    threshold: float
    above: bool  # fires when the value is above the threshold (else below)
    for_s: float
    severity: Severity
    enabled: bool
    unit: str
    summary: str
    measure: str | None  # dotted path; None: the built-in measure of the rule's name
    promql: str | None  # the same condition over django-dbopt's Prometheus metrics

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.above else value < self.threshold


_CACHE_RATE = "sum by (tier) (rate(dbopt_cache_{}_total[5m]))"

DEFAULTS = (
    Rule(
        name="query_avg_ms",
        threshold=50.0,
        above=True,
        for_s=300.0,
        severity="warning",
        enabled=True,
        unit="ms",
        summary="average query time",
        measure=None,
        promql="1000 * sum(rate(dbopt_query_duration_seconds_sum[5m]))"
        " / sum(rate(dbopt_query_duration_seconds_count[5m]))",
    ),
    Rule(
        name="cache_hit_ratio",
        threshold=0.8,
        above=False,
        for_s=300.0,
        severity="warning",
        enabled=True,
        unit="",
        summary="cache hit ratio",
        measure=None,
        promql=f"{_CACHE_RATE.format('hits')} / ({_CACHE_RATE.format('hits')}"
        f" + {_CACHE_RATE.format('misses')})",
    ),
    Rule(
        name="pool_utilization",
        threshold=0.9,
        above=True,
        for_s=60.0,
        severity="critical",
        enabled=True,
        unit="",
        summary="connection pool utilization",
        measure=None,
        promql='max by (alias) (dbopt_pool_connections{state="in_use"})'
        ' / max by (alias) (dbopt_pool_connections{state="max"})',
    ),
    Rule(
        name="replica_lag_s",
        threshold=10.0,
        above=True,
        for_s=30.0,
        severity="critical",
        enabled=True,
        unit="s",
        summary="replica replay lag",
        measure=None,
        promql="max by (alias) (dbopt_database_replica_lag_seconds)",
    ),
    Rule(  # an extension point: the backups part (or you) provides MEASURE
        name="backup_age_s",
        threshold=86400.0,
        above=True,
        for_s=0.0,
        severity="critical",
        enabled=False,
        unit="s",
        summary="age of the newest backup",
        measure=None,
        promql=None,
    ),
)
BUILTIN = {r.name: r for r in DEFAULTS}


def configured_rules() -> list[Rule]:
    """The defaults with ``DBOPT['ALERTS']['RULES']`` applied (validated by E080-E082)."""
    overrides = get_config().alerts.rules
    rules = []
    for rule in DEFAULTS:
        given: dict[str, Any] = dict(overrides.get(rule.name, {}))
        changes: dict[str, Any] = {}
        if "THRESHOLD" in given:
            changes["threshold"] = float(given["THRESHOLD"])
        if "FOR_S" in given:
            changes["for_s"] = float(given["FOR_S"])
        if "SEVERITY" in given:
            changes["severity"] = given["SEVERITY"]
        if "MEASURE" in given:
            changes["measure"] = given["MEASURE"]
            changes["enabled"] = given.get("ENABLED", True)
        if "ENABLED" in given:
            changes["enabled"] = bool(given["ENABLED"])
        rules.append(replace(rule, **changes))
    return rules


def measure_function(rule: Rule) -> Any:
    if rule.measure:
        return import_string(rule.measure)
    from django_dbopt.ops import measures

    return getattr(measures, rule.name, None)
