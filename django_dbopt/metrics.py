"""Prometheus metrics: a custom collector that reads every part's numbers at scrape time.

``metrics_view`` serves them (``django_dbopt.urls``: ``metrics/``); ``DbOptCollector``
can also be registered in your own registry (``prometheus_client.REGISTRY.register(
DbOptCollector())``). Needs ``prometheus-client`` (the ``prometheus`` extra).

Families (all prefixed ``dbopt_``):

- pools (``django_dbopt.pool``): ``pool_connections{alias,state}`` (size, available,
  in_use, min, max), ``pool_requests_waiting``, ``pool_checkouts_total``,
  ``pool_requests_queued_total``, ``pool_wait_seconds_total``, ``pool_errors_total{kind}``,
  ``pool_connections_opened_total``, ``pool_connect_errors_total``,
  ``pool_connections_lost_total``, ``pool_leaks_total{kind}``,
  ``pool_session_resets_total{result}``;
- databases (``django_dbopt.health``, probed read-only at scrape time):
  ``database_up{alias}``, ``database_in_recovery{alias}``,
  ``database_replica_lag_seconds{alias}``, ``database_replica_lag_bytes{alias}``,
  ``database_probe_seconds{alias}``;
- breakers: ``breaker_state{component,name,state}`` (1 for the current state);
- queries (``django_dbopt.monitor.query_stats(limit)``): ``queries_total`` and the
  ``query_duration_seconds`` histogram by ``{alias,fingerprint}``, the top
  ``METRICS_MAX_FINGERPRINTS`` fingerprints only (bounded cardinality);
- cache (``django_dbopt.cache.stats()``): ``cache_{hits,misses,errors}_total{tier}``,
  ``cache_table_{hits,misses,invalidations}_total{table}``, ``cache_l1_bytes``;
- backups (``django_dbopt.backup.freshness``, when ``BACKUP.ENCRYPTION_KEYS`` is set):
  ``backup_last_age_seconds{database}``, ``backup_last_verified_age_seconds{database}``,
  ``wal_archive_lag_seconds{database}`` (point-in-time recovery configured);
- routing (``django_dbopt.routing.status()``): ``routing_decisions_total{reason}``,
  ``routing_replica_lag_seconds``, ``routing_replica_lag_bytes`` and
  ``routing_replica_in_rotation`` by ``{primary,replica}``.

The cache families appear only with the ``redis`` extra and a ``TwoTierCache``
configured. Numbers are this process's: see docs/health_and_metrics.md for multi-process
servers.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("django_dbopt.metrics")

BREAKER_STATES = ("closed", "open", "half_open")


def part_function(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name`` when that part is installed, else ``None``."""
    try:
        found = importlib.import_module(module)
        # a package's lazy ``__getattr__`` imports on access: the part's extra may be missing
        function = getattr(found, name, None)
    except ImportError:
        return None
    return function if callable(function) else None


class DbOptCollector:
    """Reads the parts' numbers at scrape time; keeps no state of its own."""

    def describe(self) -> list[Any]:
        return []  # no scrape at registration time

    def collect(self) -> Iterator[Any]:
        yield from self.pool_families()
        yield from self.database_families()
        yield from self.query_families()
        yield from self.cache_families()
        yield from self.routing_families()
        yield from self.backup_families()
        yield self.breaker_family()

    # -- pools ----------------------------------------------------------------------------
    def pool_families(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from django_dbopt.pool.stats import all_pool_stats

        conns = GaugeMetricFamily(
            "dbopt_pool_connections", "Pool connections by state.", labels=["alias", "state"]
        )
        waiting = GaugeMetricFamily(
            "dbopt_pool_requests_waiting", "Checkouts waiting now.", labels=["alias"]
        )
        counters = {
            "checkouts": ("dbopt_pool_checkouts", "Connections handed out.", "requests_num"),
            "queued": ("dbopt_pool_requests_queued", "Checkouts that waited.", "requests_queued"),
            "opened": ("dbopt_pool_connections_opened", "Connections opened.", "connections_num"),
            "connect_errors": (
                "dbopt_pool_connect_errors",
                "Failed connection attempts.",
                "connections_errors",
            ),
            "lost": (
                "dbopt_pool_connections_lost",
                "Connections found broken.",
                "connections_lost",
            ),
        }
        families = {
            key: CounterMetricFamily(name, doc, labels=["alias"])
            for key, (name, doc, _) in counters.items()
        }
        wait = CounterMetricFamily(
            "dbopt_pool_wait_seconds", "Time checkouts spent waiting.", labels=["alias"]
        )
        errors = CounterMetricFamily(
            "dbopt_pool_errors", "Checkouts that failed, by kind.", labels=["alias", "kind"]
        )
        leaks = CounterMetricFamily(
            "dbopt_pool_leaks", "Leaked connections reported, by kind.", labels=["alias", "kind"]
        )
        resets = CounterMetricFamily(
            "dbopt_pool_session_resets",
            "Session resets of returning connections (failed: connection discarded).",
            labels=["alias", "result"],
        )
        for alias, stats in all_pool_stats().items():
            if stats is None:
                continue  # no pool in this process yet: no data, no zeros
            counts = stats["counters"]
            for state, key in (
                ("size", "pool_size"),
                ("available", "pool_available"),
                ("in_use", "in_use"),
                ("min", "pool_min"),
                ("max", "pool_max"),
            ):
                conns.add_metric([alias, state], stats[key])
            waiting.add_metric([alias], stats["requests_waiting"])
            for key, (_, _, source) in counters.items():
                families[key].add_metric([alias], counts[source])
            wait.add_metric([alias], counts["requests_wait_ms"] / 1000)
            errors.add_metric([alias, "timeout_or_refused"], counts["requests_errors"])
            if stats["managed"]:
                for kind in ("exhausted", "unavailable", "breaker_rejections"):
                    errors.add_metric([alias, kind], counts[kind])
                for kind in ("held_too_long", "request_end"):
                    leaks.add_metric([alias, kind], counts[f"leaks_{kind}"])
                resets.add_metric([alias, "done"], counts["resets"])
                resets.add_metric([alias, "failed"], counts["reset_failures"])
        yield conns
        yield waiting
        yield from families.values()
        yield wait
        yield errors
        yield leaks
        yield resets

    # -- databases ------------------------------------------------------------------------
    def database_families(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from django_dbopt.health import check_database, checked_aliases

        up = GaugeMetricFamily("dbopt_database_up", "1 if the probe succeeded.", labels=["alias"])
        recovery = GaugeMetricFamily(
            "dbopt_database_in_recovery", "1 for a hot standby.", labels=["alias"]
        )
        lag_s = GaugeMetricFamily(
            "dbopt_database_replica_lag_seconds",
            "Seconds since the last replayed transaction (0: all received WAL replayed).",
            labels=["alias"],
        )
        lag_bytes = GaugeMetricFamily(
            "dbopt_database_replica_lag_bytes", "WAL received, not replayed.", labels=["alias"]
        )
        probe = GaugeMetricFamily(
            "dbopt_database_probe_seconds", "Duration of the read-only probe.", labels=["alias"]
        )
        for alias in checked_aliases():
            check = check_database(alias)
            up.add_metric([alias], 1 if check["reachable"] else 0)
            probe.add_metric([alias], check["latency_ms"] / 1000)
            if check["role"] is not None:
                recovery.add_metric([alias], 1 if check["role"] == "replica" else 0)
            if check["lag_s"] is not None:
                lag_s.add_metric([alias], check["lag_s"])
            if check["lag_bytes"] is not None:
                lag_bytes.add_metric([alias], check["lag_bytes"])
        yield from (up, recovery, lag_s, lag_bytes, probe)

    # -- other parts (each only when installed) -------------------------------------------
    def query_families(self) -> Iterator[Any]:
        query_stats = part_function("django_dbopt.monitor", "query_stats")
        if query_stats is None:
            return
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        from django_dbopt.conf import get_config

        labels = ["alias", "fingerprint"]
        count = CounterMetricFamily("dbopt_queries", "Queries run.", labels=labels)
        duration = HistogramMetricFamily(
            "dbopt_query_duration_seconds", "Query durations.", labels=labels
        )
        for item in query_stats(get_config().pool.metrics_max_fingerprints):
            key = [str(item["alias"]), str(item["fingerprint"])]
            count.add_metric(key, item["count"])
            buckets = [(_le(bound), cumulative) for bound, cumulative in item["buckets"]]
            if not buckets or buckets[-1][0] != "+Inf":
                buckets.append(("+Inf", item["count"]))
            duration.add_metric(key, buckets, item["total_s"])
        yield count
        yield duration

    def cache_families(self) -> Iterator[Any]:
        report = _cache_report()
        if report is None:
            return
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        process = report["process"]
        tier_counters = {
            name: CounterMetricFamily(
                f"dbopt_cache_{name}", f"Cache {text} by tier.", labels=["tier"]
            )
            for name, text in (("hits", "hits"), ("misses", "misses"), ("errors", "errors"))
        }
        for tier, numbers in process["tiers"].items():
            for name, family in tier_counters.items():
                family.add_metric([tier], numbers[name])
        table_counters = {
            name: CounterMetricFamily(
                f"dbopt_cache_table_{name}", f"ORM cache {text} by table.", labels=["table"]
            )
            for name, text in (
                ("hits", "hits"),
                ("misses", "misses"),
                ("invalidations", "invalidations"),
            )
        }
        for table, numbers in process["tables"].items():
            for name, family in table_counters.items():
                family.add_metric([table], numbers[name])
        l1_bytes = GaugeMetricFamily("dbopt_cache_l1_bytes", "Bytes held by the L1 cache.")
        l1_bytes.add_metric([], report["l1"]["bytes"])
        acks = process["acks"]
        ack_waits = CounterMetricFamily(
            "dbopt_cache_ack_waits", "Writes that waited for other processes' L1 to apply them."
        )
        ack_waits.add_metric([], acks["waits"])
        ack_expired = CounterMetricFamily(
            "dbopt_cache_ack_expired",
            "Lease holders that did not acknowledge an invalidation (their lease ran out).",
        )
        ack_expired.add_metric([], acks["expired"])
        ack_seconds = CounterMetricFamily(
            "dbopt_cache_ack_wait_seconds", "Time writes spent waiting for acknowledgements."
        )
        ack_seconds.add_metric([], acks["wait_us"] / 1e6)
        yield from (
            *tier_counters.values(),
            *table_counters.values(),
            l1_bytes,
            ack_waits,
            ack_expired,
            ack_seconds,
        )

    def routing_families(self) -> Iterator[Any]:
        status = part_function("django_dbopt.routing", "status")
        if status is None:
            return
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        report = status().as_dict()
        decisions = CounterMetricFamily(
            "dbopt_routing_decisions", "Read routing decisions by reason.", labels=["reason"]
        )
        for reason, number in report["counters"].items():
            decisions.add_metric([reason], number)
        labels = ["primary", "replica"]
        lag = GaugeMetricFamily(
            "dbopt_routing_replica_lag_seconds", "Replay lag seen by the router.", labels=labels
        )
        lag_bytes = GaugeMetricFamily(
            "dbopt_routing_replica_lag_bytes", "WAL bytes not yet replayed.", labels=labels
        )
        rotation = GaugeMetricFamily(
            "dbopt_routing_replica_in_rotation", "1 if reads go to it.", labels=labels
        )
        for replica in report["replicas"]:
            key = [str(replica["primary"]), str(replica["alias"])]
            if replica["lag_s"] is not None:
                lag.add_metric(key, replica["lag_s"])
            if replica["lag_bytes"] is not None:
                lag_bytes.add_metric(key, replica["lag_bytes"])
            rotation.add_metric(key, 1 if replica["in_rotation"] else 0)
        yield from (decisions, lag, lag_bytes, rotation)

    # -- backups (django_dbopt.backup.metrics) -------------------------------------------
    def backup_families(self) -> Iterator[Any]:
        from django_dbopt.backup.metrics import backup_families

        yield from backup_families()

    # -- breakers -------------------------------------------------------------------------
    def breaker_family(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        from django_dbopt.pool.stats import all_pool_stats

        family = GaugeMetricFamily(
            "dbopt_breaker_state",
            "Circuit breaker states (1 for the current one).",
            labels=["component", "name", "state"],
        )
        found: list[tuple[str, str, str]] = []
        for alias, stats in all_pool_stats().items():
            if stats is not None and stats.get("breaker"):
                found.append(("pool", alias, stats["breaker"]))
        routing = part_function("django_dbopt.routing", "status")
        for replica in routing().replicas if routing else []:
            found.append(("replica", replica.alias, replica.breaker))
        cache = _cache_report()
        if cache is not None:
            found.append(("cache", str(cache["alias"]), cache["breaker"]))
        for component, name, current in found:
            for state in BREAKER_STATES:
                family.add_metric([component, name, state], 1 if state == current else 0)
        return family


def _cache_report() -> dict[str, Any] | None:
    """The two-tier cache's stats, or None without the ``redis`` extra or a TwoTierCache."""
    stats = part_function("django_dbopt.cache", "stats")
    if stats is None:
        return None
    try:
        report: dict[str, Any] = stats()
    except (ImportError, ImproperlyConfigured):
        return None
    return report


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


@transaction.non_atomic_requests  # the probes run read-only, not in the request's savepoint
@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    except ImportError:
        return HttpResponse(
            "prometheus-client is not installed: pip install 'django-dbopt[prometheus]'.\n",
            status=501,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DbOptCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
