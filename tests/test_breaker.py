from __future__ import annotations

import pytest

from django_dbopt.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    breaker = CircuitBreaker(failures=3, reset_after=5, clock=Clock())
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failures=2, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"


def test_half_open_lets_one_trial_through_then_closes_or_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_after=5, clock=clock)
    breaker.failure()
    clock.now += 5
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    breaker.failure()
    assert breaker.state == "open"  # the failed trial re-opens it for another period
    clock.now += 5
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_rejects_nonsense_threshold() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker(failures=0)
