"""Per-request / per-task routing state, kept in a ``ContextVar``.

A *scope* is one request (``ReadYourWritesMiddleware``), one Celery task
(``django_dbopt.routing.celery``) or an explicit ``with routing_scope():`` block. Within
a scope the router pins one replica per cluster (a page reads one consistent snapshot),
remembers the clusters it wrote to (later reads in the scope go to the primary) and
carries the read-your-writes positions it received or recorded.

Outside any scope nothing is pinned or recorded: each read picks a replica on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from django_dbopt.routing.tokens import Position


@dataclass
class Scope:
    #: primary alias -> the replica this scope reads from
    pinned: dict[str, str] = field(default_factory=dict)
    #: primaries written to in this scope (reads go there for the rest of the scope)
    wrote: set[str] = field(default_factory=set)
    #: primaries with committed writes whose WAL position is not recorded yet
    dirty: set[str] = field(default_factory=set)
    #: primary alias -> the WAL position a replica must have replayed to serve this scope
    required: dict[str, Position] = field(default_factory=dict)
    #: primary alias -> positions recorded after this scope's own commits
    recorded: dict[str, Position] = field(default_factory=dict)
    #: (replica, lsn) pairs already checked directly on the replica, with the answer
    checked: dict[tuple[str, int], bool] = field(default_factory=dict)

    def require(self, primary: str, position: Position) -> None:
        """Serve ``primary``'s reads only from replicas past ``position`` (keeps the max)."""
        current = self.required.get(primary)
        if current is None or position.supersedes(current):
            self.required[primary] = position

    def record(self, primary: str, position: Position) -> None:
        current = self.recorded.get(primary)
        if current is None or position.supersedes(current):
            self.recorded[primary] = position
        self.require(primary, position)

    def outgoing(self) -> dict[str, Position]:
        """The positions to hand on (cookie, task headers): received and recorded."""
        return dict(self.required)


#: the current scope (None outside requests, tasks and ``routing_scope()`` blocks)
current_scope: ContextVar[Scope | None] = ContextVar("dbopt_routing_scope", default=None)

#: an explicit override from ``use_primary()`` / ``use_replica()``:
#: ``("primary", None)`` or ``("replica", max_lag_s or None)``
current_override: ContextVar[tuple[str, float | None] | None] = ContextVar(
    "dbopt_routing_override", default=None
)


@contextlib.contextmanager
def routing_scope(scope: Scope | None = None) -> Iterator[Scope]:
    """Run a block as one routing scope (what the middleware does for a request)."""
    scope = scope if scope is not None else Scope()
    token = current_scope.set(scope)
    try:
        yield scope
    finally:
        current_scope.reset(token)
