"""Capture on real connections: aggregates, percentiles, slow queries, composition."""

from __future__ import annotations

import logging
import math
import random
import threading
from typing import Any

import pytest
from django.db import ProgrammingError, connection, connections
from django.test import override_settings

from django_dbopt import signals
from django_dbopt.monitor import histogram, scope
from django_dbopt.monitor.aggregates import AGGREGATES, Aggregates
from django_dbopt.monitor.capture import SLOW_QUEUE, QueryRecorder
from django_dbopt.monitor.fingerprint import fingerprint
from django_dbopt.monitor.store import merge_by
from example_project.demo.factories import UserFactory
from example_project.demo.models import User
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]


def stats_for(sql_fragment: str) -> Any:
    matches = [
        s
        for s in merge_by(AGGREGATES.peek().items(), by_view=False).values()
        if sql_fragment in s.fingerprint.sql
    ]
    assert len(matches) == 1, [s.fingerprint.sql for s in matches]
    return matches[0]


def test_every_connection_has_one_recorder() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    recorders = [w for w in connection.execute_wrappers if isinstance(w, QueryRecorder)]
    assert len(recorders) == 1


def test_orm_queries_are_aggregated_by_fingerprint_and_view() -> None:
    users = UserFactory.create_batch(3)
    AGGREGATES.drain()
    with scope("my-view"):
        for user in users:
            User.objects.get(pk=user.pk)
    User.objects.filter(pk=users[0].pk).first()
    rows = {
        (fp, view): s
        for (fp, view), s in AGGREGATES.peek().items()
        if "users" in s.fingerprint.sql
    }
    views = sorted(view for (_, view) in rows)
    assert views == ["-", "my-view"]
    in_view = next(s for (_, view), s in rows.items() if view == "my-view")
    assert in_view.calls == 3
    assert 0 < in_view.min_ns <= in_view.max_ns
    assert in_view.total_ns >= in_view.max_ns
    assert sum(in_view.hist.values()) == 3


@pytest.mark.postgres
def test_percentiles_match_the_measured_durations_within_the_stated_error() -> None:
    """Every query is reported through slow_query (threshold 0) with its exact duration;
    the histogram's P50/P95/P99 must match a brute-force computation on those."""
    durations: list[float] = []

    def receiver(duration_ms: float, fingerprint: str, **kwargs: Any) -> None:
        if fingerprint == target:
            durations.append(duration_ms)

    sql = "SELECT pg_sleep(%s)"
    target = fingerprint(sql).id
    rng = random.Random(3)
    signals.slow_query.connect(receiver)
    try:
        with (
            override_settings(DBOPT=monitor_config(slow_query_ms=0)),
            connection.cursor() as cursor,
        ):
            logging.getLogger("django_dbopt.monitor").disabled = True
            for _ in range(200):
                cursor.execute(sql, [rng.choice([0, 0, 0.0005, 0.001, 0.003, 0.008])])
    finally:
        logging.getLogger("django_dbopt.monitor").disabled = False
        signals.slow_query.disconnect(receiver)
    stats = stats_for("pg_sleep")
    assert stats.calls == len(durations) == 200
    ordered = sorted(durations)
    for q in (0.5, 0.95, 0.99):
        true_ms = ordered[math.ceil(q * len(ordered)) - 1]
        got = histogram.percentile(stats.hist, q)
        assert got is not None
        # durations were rounded to 1 µs for the signal: allow that on top of the error
        assert abs(got / 1e6 - true_ms) <= true_ms * histogram.RELATIVE_ERROR + 0.001
    assert stats.max_ns / 1e6 == pytest.approx(max(durations), abs=0.001)


@pytest.mark.postgres
def test_slow_query_signal_log_line_and_sample(caplog: pytest.LogCaptureFixture) -> None:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.slow_query.connect(receiver)
    try:
        with (
            override_settings(DBOPT=monitor_config(slow_query_ms=30)),
            caplog.at_level(logging.WARNING, "django_dbopt.monitor"),
            scope("reports"),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
            cursor.execute("SELECT pg_sleep(0.05)")
    finally:
        signals.slow_query.disconnect(receiver)
    assert len(received) == 1
    event = received[0]
    assert event["sql"] == "SELECT pg_sleep(?)"
    assert event["duration_ms"] >= 50
    assert event["view"] == "reports"
    assert event["call_site"].startswith("tests/test_monitor_capture.py:")
    assert event["params"] is None  # CAPTURE_PARAMS is off
    (line,) = [r for r in caplog.records if r.getMessage().startswith("slow query")]
    assert f"fingerprint={event['fingerprint']}" in line.getMessage()
    assert "view=reports" in line.getMessage()
    assert line.call_site == event["call_site"]  # type: ignore[attr-defined]
    assert SLOW_QUEUE[-1]["fingerprint"] == event["fingerprint"]
    assert stats_for("pg_sleep").slow == 1


def test_errors_propagate_and_execute_runs_once_among_other_wrappers() -> None:
    seen: list[str] = []

    def outer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append("outer")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(outer), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert seen == ["outer"]
        with pytest.raises(Exception, match="no_such_table"):
            cursor.execute("SELECT * FROM no_such_table")
    assert seen == ["outer", "outer"]
    assert stats_for("no_such_table").calls == 1


@pytest.mark.postgres
def test_failed_query_keeps_its_database_error_class() -> None:
    with pytest.raises(ProgrammingError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table_either")


def test_disabled_monitor_records_nothing() -> None:
    with override_settings(DBOPT=monitor_config(enabled=False)), connection.cursor() as cursor:
        cursor.execute("SELECT 42")
    assert AGGREGATES.peek() == {}


def test_aggregates_are_bounded_and_evictions_counted() -> None:
    aggregates = Aggregates(max_keys=10)
    for n in range(25):
        aggregates.add(fingerprint(f"SELECT col{n} FROM t"), "default", "v", 1000, False)
    assert len(aggregates) == 10
    assert aggregates.evictions == 15
    kept = {s.fingerprint.sql for s in aggregates.peek().values()}
    assert kept == {f"SELECT col{n} FROM t" for n in range(15, 25)}
    snapshot = aggregates.drain()
    assert snapshot.evictions == 15
    assert len(aggregates) == 0


def test_threads_have_their_own_scope() -> None:
    names: dict[str, str] = {}

    def work() -> None:
        with scope("thread-view"), connection.cursor() as cursor:
            cursor.execute("SELECT 'from a thread'")
        connection.close()

    with scope("main-view"):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'from main'")
    for (_, view), stats in AGGREGATES.peek().items():
        if stats.fingerprint.sql == "SELECT ?":
            names[view] = view
    assert set(names) == {"thread-view", "main-view"}
    assert all(c.alias in connections for c in connections.all(initialized_only=True))


@pytest.mark.postgres
def test_params_kept_only_when_opted_in() -> None:
    with (
        override_settings(DBOPT=monitor_config(slow_query_ms=0, capture_params=True)),
        connection.cursor() as cursor,
    ):
        logging.getLogger("django_dbopt.monitor").disabled = True
        try:
            cursor.execute("SELECT %s::text AS secret_probe", ["s3cret"])
        finally:
            logging.getLogger("django_dbopt.monitor").disabled = False
    (sample,) = [s for s in SLOW_QUEUE if "secret_probe" in s["sql"]]
    assert sample["params"] == "['s3cret']"
    assert "s3cret" not in sample["sql"]
    SLOW_QUEUE.clear()
    with (
        override_settings(DBOPT=monitor_config(slow_query_ms=0)),
        connection.cursor() as cursor,
    ):
        logging.getLogger("django_dbopt.monitor").disabled = True
        try:
            cursor.execute("SELECT %s::text AS secret_probe", ["s3cret"])
        finally:
            logging.getLogger("django_dbopt.monitor").disabled = False
    (sample,) = [s for s in SLOW_QUEUE if "secret_probe" in s["sql"]]
    assert sample["params"] is None


def test_broken_settings_never_break_queries(caplog: pytest.LogCaptureFixture) -> None:
    with (
        override_settings(DBOPT={"MONITOR": {"SLOW_QUERY_MS": "fast"}}),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 7")
        assert cursor.fetchone() == (7,)
    assert "query monitor off until DBOPT is fixed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_connecting_inside_another_wrapper_block_leaves_both_lists_intact() -> None:
    def theirs(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        return execute(sql, params, many, context)

    fresh = connections.create_connection("default")  # no wrapper installed yet
    # routing and cache install their wrappers only when configured
    every_part: dict[str, Any] = {"CACHE": {"TRACK_MODELS": ["demo"]}}
    if fresh.vendor == "postgresql":
        every_part["ROUTING"] = {"REPLICAS": {"default": {"replica": 1}}}
    try:
        assert fresh.execute_wrappers == []
        with (
            override_settings(DBOPT=every_part),
            fresh.execute_wrapper(theirs),
            fresh.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")  # connects here: connection_created fires in the block
            assert fresh.execute_wrappers[-1] is theirs  # ours went in front of it
        assert theirs not in fresh.execute_wrappers
        parts = sorted(getattr(w, "_dbopt_part", "?") for w in fresh.execute_wrappers)
        expected = (
            ["cache", "monitor", "routing"]
            if fresh.vendor == "postgresql"
            else [
                "cache",
                "monitor",
            ]
        )
        assert parts == expected  # every part's wrapper survived
    finally:
        fresh.close()


@pytest.mark.django_db(transaction=True)
def test_unconfigured_parts_install_no_wrapper_until_settings_turn_them_on() -> None:
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT 1")
        parts = [getattr(w, "_dbopt_part", "?") for w in fresh.execute_wrappers]
        assert parts == ["monitor"]  # DBOPT={}: no replicas, no tracked models
        connections["default"].ensure_connection()
        dbopt: dict[str, Any] = {"CACHE": {"TRACK_MODELS": ["demo"]}}
        if connection.vendor == "postgresql":
            dbopt["ROUTING"] = {"REPLICAS": {"default": {"replica": 1}}}
        with override_settings(DBOPT=dbopt):  # an open connection of this thread gets them
            on = sorted(getattr(w, "_dbopt_part", "?") for w in connection.execute_wrappers)
        assert on == sorted(["cache", "monitor", *(["routing"] if "ROUTING" in dbopt else [])])
    finally:
        fresh.close()
