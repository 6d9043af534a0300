"""Process and request hooks of the pool manager, connected by ``pool.wiring.connect()``.

- ``request_started`` / ``request_finished``: mark checkouts with the request that made
  them, and report those another thread still holds when it ends (``tracking.py``);
- ``os.register_at_fork(after_in_child=...)``: a forked child (gunicorn ``--preload``,
  multiprocessing, Celery prefork) never reuses its parent's pools or connections.
"""

from __future__ import annotations

import time
from typing import Any

from django_dbopt.pool.tracking import current_request

#: pools inherited by a forked child, kept so that they are never finalized there
_inherited: list[object] = []


def on_request_started(**kwargs: Any) -> None:
    current_request.set(object())


def on_request_finished(**kwargs: Any) -> None:
    request = current_request.get()
    if request is None:
        return
    current_request.set(None)
    from django_dbopt.pool.managed import ManagedPool
    from django_dbopt.pool.stats import live_pools

    now = time.monotonic()
    for pool in list(live_pools().values()):
        if isinstance(pool, ManagedPool) and pool.tracker.held:
            pool.tracker.request_finished(request)
            pool.tracker.maybe_sweep(now)


def after_fork_in_child() -> None:
    """Forget, without closing, every pool and PostgreSQL connection inherited from the parent.

    Closing would send the server a Terminate message on a socket the parent still uses,
    ending the parent's session; dropped objects are finalized without that (psycopg
    skips ``PQfinish`` in a process other than the one that connected). The child's
    pools are then created afresh on first use, with their own worker threads.
    """
    from django.db import connections

    from django_dbopt.pool.stats import forget_retired, live_pools

    pools = live_pools()
    for pool in pools.values():
        # Never usable here, and never finalized either: a finalizer would take locks
        # that a parent thread may have held at the fork.
        pool._closed = True
        _inherited.append(pool)
    pools.clear()
    forget_retired()
    for wrapper in connections.all(initialized_only=True):
        if wrapper.vendor == "postgresql" and wrapper.connection is not None:
            wrapper.connection = None
