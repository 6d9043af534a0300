"""Replica aliases that reach the real standby through a freezable TCP proxy (``proxy.py``).

``hang1`` and ``hang2`` are two aliases of the same standby, each behind its own proxy,
so one can hang while the other keeps answering; ``hang_pooled`` is ``hang1``'s proxy
behind the managed pool engine. All are mirrors of ``default`` for the test runner
(nothing is created or flushed on them) and are removed after the module.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connections

from tests.pool_fixtures import MANAGED, extra_database
from tests.proxy import TcpProxy
from tests.services import Services

ALIASES = ("hang1", "hang2", "hang_pooled")


@dataclass
class Proxied:
    proxies: dict[str, TcpProxy] = field(default_factory=dict)

    def forward_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.forward()


def _standby_conf(port: int, **overrides: Any) -> dict[str, Any]:
    conf = copy.deepcopy(connections["replica"].settings_dict)
    # a short connect_timeout, as docs/routing.md asks of replica aliases (check W090)
    conf.update(
        HOST="127.0.0.1",
        PORT=str(port),
        TEST={"MIRROR": "default"},
        OPTIONS={"connect_timeout": 2},
    )
    conf.update(overrides)
    return conf


@pytest.fixture(scope="module")
def proxied(django_db_setup: None, services: Services) -> Iterator[Proxied]:
    standby_port = int(connections["replica"].settings_dict["PORT"])
    result = Proxied()
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(TcpProxy(standby_port))
        two = stack.enter_context(TcpProxy(standby_port))
        result.proxies = {"hang1": one, "hang2": two, "hang_pooled": one}
        stack.enter_context(extra_database("hang1", _standby_conf(one.port)))
        stack.enter_context(extra_database("hang2", _standby_conf(two.port)))
        pool = {"connect_timeout": 2, "pool": {"min_size": 1, "max_size": 4, "timeout": 5}}
        stack.enter_context(
            extra_database("hang_pooled", _standby_conf(one.port, ENGINE=MANAGED, OPTIONS=pool))
        )
        try:
            yield result
        finally:
            result.forward_all()


@dataclass
class Outcome:
    """What a read run in a thread of its own did (a hung read must not hang the test)."""

    value: Any = None
    error: BaseException | None = None
    seconds: float | None = None


def run_bounded(fn: Callable[[], Any], limit: float) -> Outcome:
    """Run ``fn`` in a thread; give up waiting after ``limit`` seconds (``seconds`` None)."""
    outcome = Outcome()

    def body() -> None:
        started = time.monotonic()
        try:
            outcome.value = fn()
        except BaseException as e:  # reported to the test, not lost in the thread
            outcome.error = e
        finally:
            outcome.seconds = time.monotonic() - started
            for conn in connections.all(initialized_only=True):
                conn.close()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(limit)
    return outcome
