"""L1 leases and acknowledged invalidations, with real OS processes (``leases.py``).

A write returns once every other process holding an L1 lease has applied its
invalidation; a process that cannot acknowledge (stopped, killed) costs writers at most
its remaining lease, once, and serves nothing stale when it wakes up."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from django_dbopt.cache.state import CacheState
from example_project.demo.models import User
from tests.cache_fixtures import caches_setting, lease_holder, orm_settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCATION = "leases"


@pytest.fixture
def st(services: Any) -> Iterator[CacheState]:
    caches_ = caches_setting(LOCATION, L1_LEASE=1.0)
    with override_settings(CACHES=caches_, DBOPT=orm_settings()):
        yield caches["default"].state


class Holder:
    """Another OS process holding an L1 lease on the same cache."""

    def __init__(self, pk: int, lease_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        db_name = connection.settings_dict["NAME"]
        options = {"L1_LEASE": lease_s}
        self.proc = ctx.Process(
            target=lease_holder, args=(db_name, pk, LOCATION, options, child_conn)
        )
        self.proc.start()
        assert self.conn.poll(60), "the lease holder did not start"
        status, self.node = self.conn.recv()
        assert status == "ready"

    def read(self) -> tuple[int, bool]:
        self.conn.send("read")
        assert self.conn.poll(30)
        value, from_l1 = self.conn.recv()
        return value, from_l1

    def close(self) -> None:
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGCONT)
            self.conn.send("stop")
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


@pytest.fixture
def user() -> User:
    return User.objects.create_user(email="lease@example.com", password="x")


def _timed_update(user: User, value: int) -> float:
    start = time.monotonic()
    User.objects.filter(pk=user.pk).update(failed_login_count=value)  # autocommit: acked
    return time.monotonic() - start


def _lease_left(st: CacheState, node: str) -> float:
    """Seconds left on ``node``'s lease as Redis recorded it (Redis clock), now."""
    client = st.tier.client
    expiry_ms = client.zscore(st.leases_key, node)
    assert expiry_ms is not None, "the holder has no lease"
    seconds, micros = client.time()
    return (float(expiry_ms) - (seconds * 1000 + micros / 1000)) / 1000


def _acks(st: CacheState) -> dict[str, int]:
    snap = st.stats.snapshot()
    return {k: snap.get(f"acks.{k}", 0) for k in ("waits", "expired")}


def test_a_commit_returns_once_the_other_process_applied_it(st: CacheState, user: User) -> None:
    holder = Holder(user.pk, lease_s=5.0)
    try:
        assert holder.read() == (0, False)
        assert holder.read() == (0, True)  # served from its L1, no network call
        before = _acks(st)
        elapsed = _timed_update(user, 1)
        after = _acks(st)
        assert after["waits"] == before["waits"] + 1
        assert after["expired"] == before["expired"]  # acknowledged, not waited out
        assert elapsed < 5.0  # not the 5 s lease it would otherwise wait out
        assert holder.read()[0] == 1
        assert holder.read() == (1, True)
    finally:
        holder.close()


def test_a_stopped_process_costs_one_lease_and_serves_nothing_stale(
    st: CacheState, user: User
) -> None:
    holder = Holder(user.pk, lease_s=3.0)  # renewed every 0.75 s: > 2 s left when stopped
    try:
        holder.read()
        assert holder.read() == (0, True)
        os.kill(holder.proc.pid, signal.SIGSTOP)
        before = _acks(st)
        left = _lease_left(st, holder.node)
        assert left > 0, "the holder's lease ran out before the write (machine stalled)"
        waited = _timed_update(user, 1)
        assert waited >= left - 0.05  # its lease was waited out, not skipped
        assert waited < 3.0 + 2.0  # at most one lease (and slack for a busy machine)
        after = _acks(st)
        assert after["expired"] == before["expired"] + 1
        _timed_update(user, 2)
        assert _acks(st) == after  # an expired lease is not waited for again
        os.kill(holder.proc.pid, signal.SIGCONT)
        assert holder.read()[0] == 2  # its lease expired while stopped: no stale L1 hit
    finally:
        holder.close()


def test_a_killed_process_is_waited_for_at_most_one_lease(st: CacheState, user: User) -> None:
    holder = Holder(user.pk, lease_s=1.0)
    holder.read()
    holder.proc.kill()
    holder.proc.join()
    waited = _timed_update(user, 1)
    assert waited < 1.0 + 2.0  # at most one lease (and slack for a busy machine)
    after = _acks(st)
    _timed_update(user, 2)
    assert _acks(st) == after  # an expired lease is not waited for again


def test_a_writer_alone_does_not_wait(st: CacheState, user: User) -> None:
    assert st.wait_l1(30)
    User.objects.get(pk=user.pk)
    before = _acks(st)
    _timed_update(user, 1)
    assert _acks(st) == before  # nobody else held a lease: nothing to wait for
    assert User.objects.get(pk=user.pk).failed_login_count == 1


def test_holders_that_cannot_be_heard_are_waited_out_for_their_lease_only(
    st: CacheState,
) -> None:
    """Redis fails while a writer waits for acknowledgements: it waits until the
    holder's lease has run out (it cannot hear from it), not longer."""
    from django_dbopt.cache import leases

    now_ms = int(st.tier.client.time()[0] * 1000)
    flat = [b"other-process", str(now_ms + 400).encode()]
    for _ in range(st.tier.breaker.failures):
        st.tier.breaker.failure()  # every Redis call is refused from now on
    try:
        start = time.monotonic()
        late = leases.await_acks(st, st.new_ack(wait=True), flat, now_ms, 0)
        waited = time.monotonic() - start
    finally:
        st.tier.breaker.reset()
    assert late == 1
    assert 0.25 < waited < 0.4 + 1.5  # the lease's 0.4 s (and slack for a busy machine)
