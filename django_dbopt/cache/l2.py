"""The second tier: the Redis behind a django-redis (or Django ``RedisCache``) alias.

All Redis traffic of the cache goes through ``RedisTier.run``: a circuit breaker refuses
calls at once while Redis is failing (so an outage costs microseconds per call, not a
connect timeout), and Redis errors become ``L2Down`` for the backend to degrade on.

The Lua scripts it runs (``script``) are in ``scripts.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import NoScriptError

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.cache.scripts import SCRIPTS
from django_dbopt.exceptions import ServiceUnavailable

logger = logging.getLogger("django_dbopt.cache")
T = TypeVar("T")

#: errors that mean "Redis is not usable right now"
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

if TYPE_CHECKING:
    Client = redis.Redis[bytes]
else:
    Client = redis.Redis


class L2Down(ServiceUnavailable):
    """Redis refused or failed the call, or the breaker is open."""


class Quarantined(L2Down):
    """Redis came back (or was flushed) less than the quarantine ago: cached reads that
    depend on generations are bypassed until every process has had time to write the
    invalidations it could not write while Redis was away (docs/cache.md)."""


def redis_client_of(alias: str) -> Client:
    """The ``redis.Redis`` client behind a django-redis or Django ``RedisCache`` alias."""
    backend: Any = caches[alias]
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "get_client"):  # django-redis
        return client.get_client(write=True)  # type: ignore[no-any-return]
    inner = getattr(backend, "_cache", None)
    if inner is not None and hasattr(inner, "get_client"):  # django.core.cache RedisCache
        return inner.get_client(write=True)  # type: ignore[no-any-return]
    raise ImproperlyConfigured(
        f"CACHES[{alias!r}] is not a Redis cache (django-redis or Django's RedisCache); "
        "TwoTierCache's OPTIONS['L2'] must name one. (django_dbopt.E031)"
    )


class RedisTier:
    def __init__(
        self,
        alias: str,
        breaker: CircuitBreaker,
        on_error: Callable[[], None],
        on_refused: Callable[[], None] = lambda: None,
        on_back: Callable[[], None] = lambda: None,
    ) -> None:
        self.alias = alias
        self.breaker = breaker
        self._on_error = on_error
        self._on_refused = on_refused
        self._on_back = on_back
        self._client: Client | None = None
        self._lock = threading.Lock()
        self._failing = False

    @property
    def client(self) -> Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis_client_of(self.alias)
        return self._client

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self.breaker = CircuitBreaker(self.breaker.failures, self.breaker.reset_after)
        self._failing = False

    @property
    def available(self) -> bool:
        return self.breaker.state == "closed"

    def run(self, fn: Callable[[Client], T], *, force: bool = False) -> T:
        """``fn(client)`` guarded by the breaker (``force``: try even if it is open);
        raises ``L2Down`` instead of Redis errors."""
        if not force and not self.breaker.allow():
            self._on_refused()
            raise L2Down(f"Redis behind cache alias {self.alias!r} is unavailable (breaker open)")
        try:
            result = fn(self.client)
        except redis.ResponseError:
            self.breaker.success()  # Redis answered: a data error, not an outage
            raise
        except REDIS_ERRORS as e:
            raise self._failed(e) from e
        self._succeeded()
        return result

    def _failed(self, error: BaseException) -> L2Down:
        self.breaker.failure()
        if not self._failing:
            self._failing = True
            logger.warning("Redis for cache alias %r failed: %s", self.alias, error)
        self._on_error()
        return L2Down(f"Redis behind cache alias {self.alias!r} failed: {error}")

    def _succeeded(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("Redis for cache alias %r is back", self.alias)
            self._on_back()
        self.breaker.success()

    def send(self, commands: Sequence[tuple[Any, ...]]) -> Pending | None:
        """Send ``commands`` without waiting for their replies (``Pending.replies()`` reads
        them later), so a round trip can overlap other work. None if the breaker is open
        or Redis failed (counted as for ``run``)."""
        if not self.breaker.allow():
            self._on_refused()
            return None
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()
        except REDIS_ERRORS as e:
            self._failed(e)
            return None
        try:
            conn.send_packed_command(conn.pack_commands(commands))
        except REDIS_ERRORS as e:
            conn.disconnect()
            pool.release(conn)
            self._failed(e)
            return None
        return Pending(self, conn, len(commands))

    def script(
        self, name: str, keys: Sequence[str], args: Sequence[Any], *, force: bool = False
    ) -> Any:
        """Run one of the Lua scripts by its SHA (loading it with ``EVAL`` when Redis does
        not know it, e.g. after a restart). Called directly rather than through redis-py's
        ``Script`` helper, which costs ~25 µs a call here."""
        sha, text = SCRIPTS[name]

        def call(client: Client) -> Any:
            try:
                return client.evalsha(sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
            except NoScriptError:
                return client.eval(text, len(keys), *keys, *args)  # type: ignore[no-untyped-call]

        return self.run(call, force=force)


class LocalTier:
    """The missing second tier of L1-only mode (no ``L2`` alias): every call answers
    ``L2Down`` at once, without counting an error; the cache keeps everything in L1."""

    alias = None
    available = False

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    @property
    def client(self) -> Client:
        raise L2Down("this TwoTierCache has no L2 (L1-only mode)")

    def after_fork(self) -> None:
        pass

    def run(self, fn: Callable[[Client], T], *, force: bool = False) -> T:
        raise L2Down("this TwoTierCache has no L2 (L1-only mode)")

    def send(self, commands: Sequence[tuple[Any, ...]]) -> Pending | None:
        return None

    def script(
        self, name: str, keys: Sequence[str], args: Sequence[Any], *, force: bool = False
    ) -> Any:
        raise L2Down("this TwoTierCache has no L2 (L1-only mode)")


class Pending:
    """Commands sent by ``RedisTier.send`` whose replies are still to be read."""

    def __init__(self, tier: RedisTier, conn: Any, count: int) -> None:
        self._tier = tier
        self._conn = conn
        self._count = count

    def replies(self) -> list[Any] | None:
        """The replies in order, or None if Redis failed or answered with an error."""
        conn, pool = self._conn, self._tier.client.connection_pool
        try:
            replies = [conn.read_response() for _ in range(self._count)]
        except redis.ResponseError:
            conn.disconnect()  # replies after the error may still be unread
            self._tier.breaker.success()  # Redis answered: a data error, not an outage
            return None
        except REDIS_ERRORS as e:
            conn.disconnect()
            self._tier._failed(e)
            return None
        finally:
            pool.release(conn)
        self._tier._succeeded()
        return replies

    def abandon(self) -> None:
        """Give the connection back without reading (its replies are dropped with it).

        The commands were sent, so Redis took the connection: that reports success to the
        breaker (were this send its half-open trial, the breaker would otherwise wait for
        an outcome that never comes)."""
        self._conn.disconnect()
        self._tier.client.connection_pool.release(self._conn)
        self._tier.breaker.success()
