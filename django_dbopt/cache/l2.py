"""The second tier: the Redis behind a django-redis (or Django ``RedisCache``) alias.

All Redis traffic of the cache goes through ``RedisTier.run``: a circuit breaker refuses
calls at once while Redis is failing (so an outage costs microseconds per call, not a
connect timeout), and Redis errors become ``L2Down`` for the backend to degrade on.

Generation counters live here too (see docs/cache.md, "Generations"): one Redis key per
table or tag, read and, when missing, *seeded* inside the same Lua script from Redis's
own clock in microseconds. A counter is bumped by ``INCR``; a missing one is seeded from
``TIME`` before the increment. Because a counter is bumped far less often than once per
microsecond, a reseeded counter is always above every value it had before, so entries
keyed by old generations can never be addressed again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import NoScriptError

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.exceptions import ServiceUnavailable

logger = logging.getLogger("django_dbopt.cache")
T = TypeVar("T")

#: errors that mean "Redis is not usable right now"
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

_SEED = """
local function gen(k)
  local g = redis.call('GET', k)
  if not g then
    local t = redis.call('TIME')
    g = t[1] .. string.rep('0', 6 - #t[2]) .. t[2]
    redis.call('SET', k, g)
  end
  return g
end

-- is Redis younger than the quarantine? The "up" marker disappears with everything else
-- when Redis restarts or is flushed; whoever finds it missing makes it, together with a
-- "young" marker that expires after the quarantine (milliseconds)
local function young(up, ms)
  if redis.call('EXISTS', up) == 1 then
    return redis.call('EXISTS', up .. ':young') == 1
  end
  redis.call('SET', up, '1')
  if tonumber(ms) > 0 then
    redis.call('SET', up .. ':young', '1', 'PX', ms)
    return true
  end
  return false
end
"""

#: KEYS: generation keys. ARGV: query-key prefix, guessed generations, "1" if the
#: caller already holds the value for the guess, the "up" marker key, the quarantine in
#: milliseconds, then (key, seconds, value) triples of results computed earlier to store
#: (they ride along instead of costing a round trip).
#: Returns {generations, value or false, 1 if Redis came up less than a quarantine ago}.
FETCH_LUA = (
    _SEED
    + """
for i = 6, #ARGV, 3 do redis.call('SET', ARGV[i], ARGV[i + 2], 'EX', ARGV[i + 1]) end
local gens = {}
for i, k in ipairs(KEYS) do gens[i] = gen(k) end
local gs = table.concat(gens, '.')
if young(ARGV[4], ARGV[5]) then return {gs, false, 1} end
if ARGV[3] == '1' and gs == ARGV[2] then return {gs, false, 0} end
if ARGV[1] == '' then return {gs, false, 0} end
return {gs, redis.call('GET', ARGV[1] .. gs), 0}
"""
)

#: KEYS: generation keys. ARGV: channel, message, "up" marker key, quarantine (ms).
#: Seeds, increments, publishes.
BUMP_LUA = (
    _SEED
    + """
young(ARGV[3], ARGV[4])
local out = {}
for i, k in ipairs(KEYS) do gen(k); out[i] = redis.call('INCR', k) end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return out
"""
)

#: KEYS[1]: key. ARGV: delta, channel, message. False when the key is missing (Django:
#: ValueError); an error reply when the value is not an integer (Django: TypeError).
INCR_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return v
"""


if TYPE_CHECKING:
    Client = redis.Redis[bytes]
else:
    Client = redis.Redis


#: name -> (SHA1, text) of the Lua scripts
SCRIPTS = {
    name: (hashlib.sha1(text.encode()).hexdigest(), text)  # noqa: S324 - Redis's script id
    for name, text in (("fetch", FETCH_LUA), ("bump", BUMP_LUA), ("incr", INCR_LUA))
}


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
    ) -> None:
        self.alias = alias
        self.breaker = breaker
        self._on_error = on_error
        self._on_refused = on_refused
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

    def run(self, fn: Callable[[Client], T], force: bool = False) -> T:
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
            self.breaker.failure()
            if not self._failing:
                self._failing = True
                logger.warning("Redis for cache alias %r failed: %s", self.alias, e)
            self._on_error()
            raise L2Down(f"Redis behind cache alias {self.alias!r} failed: {e}") from e
        if self._failing:
            self._failing = False
            logger.warning("Redis for cache alias %r is back", self.alias)
        self.breaker.success()
        return result

    def script(
        self, name: str, keys: Sequence[str], args: Sequence[Any], force: bool = False
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

        return self.run(call, force)
