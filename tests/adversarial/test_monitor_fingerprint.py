"""Fingerprints keep no literal (issue 11, item 8), with ``CAPTURE_PARAMS`` off: not in
the shape, the store, the N+1 findings, Redis or the report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.test import override_settings

from django_dbopt.monitor.capture import finish_scope, new_scope
from django_dbopt.monitor.fingerprint import fingerprint, normalize
from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.report import build_report
from django_dbopt.monitor.scope import current
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

#: (SQL with a literal, the part of it that must never be kept)
CORPUS: list[tuple[str, str]] = [
    ("SELECT E'sec\\'retQA'", "retQA"),
    ("SELECT E'\\\\\\'hunterQB'", "hunterQB"),
    ("SELECT $$s3cr3tQC$$", "s3cr3tQC"),
    ("SELECT $t$s3cr3tQD$t$", "s3cr3tQD"),
    ("SELECT $a_1$ $$ s3cr3tQE $$ $a_1$", "s3cr3tQE"),
    ("SELECT 1 /* /* */ secret=hunterQF */", "hunterQF"),
    ("SELECT 1 -- secret=hunterQG\n", "hunterQG"),
    ("SELECT 0xC0FFEE", "C0FFEE"),
    ("SELECT .987654321", "987654321"),
    ("SELECT 123456789e-9", "123456789"),
    # (long enough that no timestamp's microseconds in a dumped report can contain it)
    ("SELECT -42.86420975313e3", "86420975313"),
    ("SELECT '--', 'hunterQH' WHERE 1 = 1", "hunterQH"),
    ("SELECT '/*', 'hunterQI', '*/'", "hunterQI"),
    ("SELECT 'it''s hunterQJ'", "hunterQJ"),
    ("SELECT U&'d\\0061t hunterQK'", "hunterQK"),
    ("SELECT N'hunterQL'", "hunterQL"),
    ("SELECT X'1FFFFE', B'101101101'", "1FFFFE"),
    ("SELECT 'a\\' , 'hunterQM'", "hunterQM"),
    ("SELECT 'unterminated hunterQN", "hunterQN"),
    ("SELECT 1 /* unterminated hunterQO", "hunterQO"),
    ("SELECT $q$ unterminated hunterQP", "hunterQP"),
    ("SELECT 1 /* /* nested hunterQQ */", "hunterQQ"),
    ("SELECT 'x' || E'\\x41hunterQR'", "hunterQR"),
    ("SELECT 'a'\n'hunterQS'", "hunterQS"),
    ("SELECT %s, 'hunterQT' WHERE 1 = 1", "hunterQT"),
    ("SELECT $1$ $$ hunterQU $$", "hunterQU"),
    ("SELECT e'\\'' || 'hunterQV'", "hunterQV"),
    ("SELECT TRUE, 'hunterQW'::text", "hunterQW"),
]


@pytest.mark.parametrize(("sql", "secret"), CORPUS)
def test_no_literal_in_the_fingerprint(sql: str, secret: str) -> None:
    shape = fingerprint(sql).sql
    assert secret not in shape
    assert secret.lower() not in shape.lower()


def test_a_comment_marker_inside_a_string_does_not_cut_the_query() -> None:
    assert normalize("SELECT '--', 'x' FROM t WHERE a = 1") == "SELECT ?, ? FROM t WHERE a = ?"
    assert normalize("SELECT '/*' FROM t WHERE a = 1 /* c */") == "SELECT ? FROM t WHERE a = ?"


def test_unreadable_sql_is_a_stable_hash() -> None:
    a = normalize("SELECT 'never closed hunter")
    assert a.startswith("UNREADABLE SQL ")
    assert a == normalize("SELECT 'never closed hunter")
    assert a != normalize("SELECT 'never closed other")


def _run_everything() -> None:
    """Each query of the corpus as an application would run it: slow (threshold 0) and
    three times from one line inside a scope (an N+1)."""
    scope = new_scope("adversarial:view")
    token = current.set(scope)
    try:
        for sql, _ in CORPUS:
            for _ in range(3):
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(sql, ["x"] if "%s" in sql else None)
                except DatabaseError:
                    pass
    finally:
        current.reset(token)
    assert finish_scope(scope), "no N+1 finding: the test would prove nothing"


def _assert_clean(text: str) -> None:
    for _, secret in CORPUS:
        assert secret not in text, secret


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_monitor")
def test_nothing_reaches_the_database_store_or_the_report() -> None:
    from django_dbopt.monitor.models import NPlusOneFinding, QueryShape, SlowQuery

    config = monitor_config(slow_query_ms=0, nplusone_min_count=2, nplusone_min_total_ms=0)
    with override_settings(DBOPT=config):
        _run_everything()
        flush_now()
        report = build_report(with_advice=True, explain_top=50)
    _assert_clean(json.dumps(report, default=str))
    rows: list[Any] = [
        *QueryShape.objects.values_list("sql", flat=True),
        *NPlusOneFinding.objects.values_list("sql", "hint", "stack", "call_site"),
        *SlowQuery.objects.values_list("params", "call_site"),
    ]
    assert len(rows) > len(CORPUS)
    _assert_clean(json.dumps(rows, default=str))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_monitor")
def test_nothing_reaches_redis() -> None:
    redis = caches["redis"].client.get_client(write=True)  # type: ignore[attr-defined]
    redis.flushdb()
    config = monitor_config(
        slow_query_ms=0, nplusone_min_count=2, nplusone_min_total_ms=0, store_cache="redis"
    )
    with override_settings(DBOPT=config):
        _run_everything()
        flush_now()
        report = build_report(with_advice=False)
    _assert_clean(json.dumps(report, default=str))
    dumped = []
    for key in redis.scan_iter("*"):
        kind = redis.type(key).decode()
        value: Any = {
            "string": lambda k: redis.get(k),
            "hash": lambda k: redis.hgetall(k),
            "list": lambda k: redis.lrange(k, 0, -1),
            "set": lambda k: redis.smembers(k),
            "zset": lambda k: redis.zrange(k, 0, -1),
        }[kind](key)
        dumped.append(repr((key, value)))
    assert len(dumped) > 3
    _assert_clean("\n".join(dumped))
