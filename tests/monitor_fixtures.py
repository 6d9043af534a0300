"""Shared fixtures of the query monitor's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_dbopt.monitor.aggregates import AGGREGATES
from django_dbopt.monitor.capture import FINDINGS, SLOW_QUEUE

MIDDLEWARE_PATH = "django_dbopt.middleware.QueryMonitorMiddleware"


def monitor_config(**monitor: Any) -> dict[str, Any]:
    """A DBOPT dict for tests: no background flushing, plus ``monitor`` keys."""
    return {"MONITOR": {"FLUSH_INTERVAL_S": 0, **{k.upper(): v for k, v in monitor.items()}}}


@pytest.fixture
def fresh_monitor() -> Iterator[None]:
    """Empty in-process aggregates and queues before and after the test."""
    AGGREGATES.drain()
    SLOW_QUEUE.clear()
    FINDINGS.clear()
    with override_settings(DBOPT=monitor_config()):
        yield
    AGGREGATES.drain()
    SLOW_QUEUE.clear()
    FINDINGS.clear()
