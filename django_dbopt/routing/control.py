"""``use_primary()`` and ``use_replica()``: explicit routing for a block or a function.

Both work as context managers and as decorators (sync and async functions)::

    with use_primary():
        report = build_report()

    @use_replica(max_lag=30)
    def nightly_stats(): ...

``use_replica()`` accepts replica staleness on purpose: it ignores the scope's own
writes and read-your-writes positions, and serves from a replica in rotation whose lag
is at most ``max_lag`` seconds (``None``: the ``MAX_LAG_S`` limit). With no such replica,
reads follow ``NO_FIT_REPLICA``. Reads inside ``atomic()`` stay on the primary either way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar

from django_dbopt.routing.scope import current_override

F = TypeVar("F", bound=Callable[..., Any])


class _Override:
    def __init__(self, value: tuple[str, float | None]) -> None:
        self.value = value
        self._tokens: list[Token[tuple[str, float | None] | None]] = []

    def __enter__(self) -> None:
        self._tokens.append(current_override.set(self.value))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        current_override.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        value = self.value
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = current_override.set(value)
                try:
                    return await func(*args, **kwargs)
                finally:
                    current_override.reset(token)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = current_override.set(value)
            try:
                return func(*args, **kwargs)
            finally:
                current_override.reset(token)

        return wrapper  # type: ignore[return-value]


def use_primary() -> _Override:
    """Send every read in the block (or function) to the primary."""
    return _Override(("primary", None))


def use_replica(max_lag: float | None = None) -> _Override:
    """Read from a replica in rotation with at most ``max_lag`` seconds of lag."""
    if max_lag is not None and max_lag < 0:
        raise ValueError("max_lag must be >= 0 seconds")
    return _Override(("replica", max_lag))
