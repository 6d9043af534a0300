"""Two OS processes: one commits increments to a row, the other reads it through the ORM
cache. Every read must be at least the last value committed before the read began, also
while Redis is stopped and restarted mid-run."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest
from django.db import connection

from example_project.demo.models import User
from tests.cache_fixtures import stale_reader, stale_writer
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run(services: Any, count: int, outage: bool, busy: bool = False) -> dict[str, int]:
    user = User.objects.create_user(email="counter@example.com", password="x")
    db_name = connection.settings_dict["NAME"]
    ctx = multiprocessing.get_context("spawn")
    committed = ctx.Value("q", 0, lock=False)
    ready, done = ctx.Event(), ctx.Event()
    out = ctx.Queue()
    reader = ctx.Process(
        target=stale_reader, args=(db_name, user.pk, committed, ready, done, out, busy)
    )
    writer = ctx.Process(target=stale_writer, args=(db_name, user.pk, count, committed, done))
    reader.start()
    assert ready.wait(60)  # Django imported, subscribed, past the restart quarantine
    writer.start()
    try:
        if outage:
            wait_until(lambda: committed.value >= count // 4, 60, 0.01)
            services.stop_redis()
            time.sleep(0.5)
            services.start_redis()
        result: dict[str, int] = out.get(timeout=360)
    finally:
        done.set()
        writer.join(30)
        reader.join(30)
        for proc in (writer, reader):
            if proc.is_alive():
                proc.kill()
    assert writer.exitcode == 0
    assert reader.exitcode == 0
    print(result)  # shown with -s: reads, hits, stale
    return result


def test_no_stale_read_across_processes(services: Any) -> None:
    result = _run(services, count=300, outage=False)
    assert result["errors"] == 0
    assert result["reads"] > 300
    assert result["hits"] > result["reads"] // 4  # the cache really served reads
    assert result["stale"] == 0, result


def test_no_stale_read_while_redis_stops_and_restarts(controllable_services: Any) -> None:
    result = _run(controllable_services, count=300, outage=True)
    assert result["errors"] == 0
    assert result["hits"] > 0
    assert result["stale"] == 0, result


def test_no_stale_read_while_the_reader_is_cpu_bound(services: Any) -> None:
    """A thread spinning in the reader: its listener waits for the GIL, and the writer
    waits for its acknowledgement (pub/sub alone served thousands of stale reads here)."""
    result = _run(services, count=300, outage=False, busy=True)
    assert result["errors"] == 0
    assert result["hits"] > result["reads"] // 4
    assert result["stale"] == 0, result
