"""The L2 breaker's half-open trial always gets an outcome when it is a pipelined send
(``RedisTier.send``): a data error read back (``Pending.replies``) and a send whose
replies are dropped (``Pending.abandon``) both prove Redis answered, so the breaker
closes; before, either left it half-open, refusing every L2 call until the trial
timed out."""

from __future__ import annotations

import pytest

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.cache.l2 import RedisTier

pytestmark = pytest.mark.postgres  # the suite's Redis


def _half_open_tier() -> RedisTier:
    clock = [0.0]
    breaker = CircuitBreaker(failures=1, reset_after=1.0, clock=lambda: clock[0])
    breaker.failure()  # open
    clock[0] = 2.0  # past reset_after: half-open
    assert breaker.state == "half_open"
    return RedisTier("redis", breaker, on_error=lambda: None)


def test_a_data_error_read_back_closes_the_half_open_breaker() -> None:
    tier = _half_open_tier()
    pending = tier.send([("INCR", "dbopt:test:l2-breaker:not-an-int-key-type", "x")])
    assert pending is not None  # this send is the trial
    assert tier.breaker.acquire() == "refused"  # nobody else while it runs
    assert pending.replies() is None  # INCR with a non-integer argument: a data error
    assert tier.breaker.state == "closed"


def test_an_abandoned_send_closes_the_half_open_breaker() -> None:
    tier = _half_open_tier()
    pending = tier.send([("PING",)])
    assert pending is not None
    pending.abandon()
    assert tier.breaker.state == "closed"
