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
_reads: dict[str, int] = {}


def add(reason: str, replica: str | None = None) -> None:
    """Count one decision; ``replica``: the replica alias it chose, if any."""
    with _lock:
        _counts[reason] += 1
        if replica is not None:
            _reads[replica] = _reads.get(replica, 0) + 1


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def reads() -> dict[str, int]:
    """Read decisions that chose each replica alias."""
    with _lock:
        return dict(_reads)


def clear() -> None:
    with _lock:
        for reason in _counts:
            _counts[reason] = 0
        _reads.clear()
