"""use_primary() / use_replica() as context managers and decorators (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from django_dbopt.routing import use_primary, use_replica
from django_dbopt.routing.scope import current_override


def test_context_managers_nest_and_restore() -> None:
    assert current_override.get() is None
    with use_primary():
        assert current_override.get() == ("primary", None)
        with use_replica(max_lag=3):
            assert current_override.get() == ("replica", 3)
        assert current_override.get() == ("primary", None)
    assert current_override.get() is None


def test_decorators_sync_and_async() -> None:
    @use_replica(max_lag=10)
    def sync_function() -> object:
        return current_override.get()

    @use_primary()
    async def async_function() -> object:
        await asyncio.sleep(0)
        return current_override.get()

    assert sync_function() == ("replica", 10)
    assert asyncio.run(async_function()) == ("primary", None)
    assert current_override.get() is None


def test_negative_max_lag_is_refused() -> None:
    with pytest.raises(ValueError, match="max_lag"):
        use_replica(max_lag=-1)
