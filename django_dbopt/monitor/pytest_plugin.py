"""pytest fixtures for your suite: enable with ``-p django_dbopt.monitor.pytest_plugin``.

- ``query_budget(max_queries=None, max_ms=None)``: a context manager factory;
- ``no_nplusone``: the whole test fails if it ran an N+1 (``assert_no_nplusone``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_dbopt.monitor import testing


@pytest.fixture
def query_budget() -> Callable[..., Any]:
    return testing.query_budget


@pytest.fixture
def no_nplusone() -> Iterator[testing.Watch]:
    with testing.assert_no_nplusone() as result:
        yield result
