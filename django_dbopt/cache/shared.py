"""The ``CacheState`` of each ``TwoTierCache`` configuration in this process, shared by the
cache instances of every thread (as Django's ``LocMemCache`` shares its ``_caches``), and
what the process does with them at ``fork()`` and at exit (``cache.wiring``)."""

from __future__ import annotations

import threading

from django_dbopt.cache.state import LISTENING, CacheState, Config

_states: dict[Config, CacheState] = {}
_states_lock = threading.Lock()


def state_for(config: Config) -> CacheState:
    state = _states.get(config)
    if state is None:
        with _states_lock:
            state = _states.get(config)
            if state is None:
                state = _states[config] = CacheState(config)
    return state


def all_states() -> list[CacheState]:
    return list(_states.values())


def reset_after_fork() -> None:
    """In a forked child: every state starts over in place."""
    for state in _states.values():
        state.after_fork()


def release_at_exit() -> None:
    """At interpreter exit: tell writers not to wait for our leases."""
    for state in list(LISTENING):
        state.release_lease()
