"""The database store on whatever engine the run uses (SQLite in the embedded default)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from django_dbopt.monitor import scope
from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.store import get_store
from tests.monitor_fixtures import fresh_monitor  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_monitor")]


def test_database_store_round_trip() -> None:
    with scope("embedded"), connection.cursor() as cursor:
        for n in range(12):
            cursor.execute("SELECT %s + 1", [n])
    local = {k: (v.calls, dict(v.hist)) for k, v in AGGREGATES.peek().items()}
    result = flush_now()
    assert result.keys == len(local)
    loaded = get_store().load(since=timezone.now() - datetime.timedelta(minutes=5))
    assert {k: (v.calls, v.hist) for k, v in loaded.items() if k in local} == local
    assert get_store().processes(since=None) == {"flushes": 1, "processes": 1, "evictions": 0}
