"""Per-process counts of routing decisions by reason (what the admin page and
``django_dbopt.routing.status()`` show)."""

from __future__ import annotations

import threading

#: every reason a read decision can give, in display order
REASONS = (
    "replica",  # served by a fit replica
    "primary-after-write",  # the scope wrote, or a replica had not replayed its position
    "in-transaction",  # inside atomic() on the primary
    "forced-primary",  # use_primary()
    "no-fit-replica",  # no replica in rotation (lagging, recovering, unknown)
    "breaker-open",  # every replica's circuit breaker is open
    "stale-replica",  # NO_FIT_REPLICA = "least_lagged": a replica within MAX_STALENESS_S
    "replica-failed",  # a read failed on a replica and was run again on the primary
)

_lock = threading.Lock()
_counts: dict[str, int] = dict.fromkeys(REASONS, 0)


def add(reason: str) -> None:
    with _lock:
        _counts[reason] += 1


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def clear() -> None:
    with _lock:
        for reason in _counts:
            _counts[reason] = 0
