"""Logging and signalling state transitions (the health monitor's only side effects)."""

from __future__ import annotations

import logging

from django_dbopt.routing.states import Transition
from django_dbopt.signals import replica_state_changed

logger = logging.getLogger("django_dbopt.routing")

#: states that take a server out of service: logged as warnings
_BAD = frozenset({"down", "lagging", "promoted", "demoted", "unreachable"})


def announce(transitions: list[Transition], sender: object) -> None:
    """Log each transition and send ``replica_state_changed`` for it."""
    for t in transitions:
        log = logger.warning if t.new_state in _BAD else logger.info
        if t.replica == t.primary:
            log("primary %s: %s -> %s (%s)", t.primary, t.old_state, t.new_state, t.reason)
        else:
            log(
                "replica %s of %s: %s -> %s (%s)",
                t.replica,
                t.primary,
                t.old_state,
                t.new_state,
                t.reason,
            )
        for receiver, result in replica_state_changed.send_robust(
            sender=sender,
            primary=t.primary,
            replica=t.replica,
            old_state=t.old_state,
            new_state=t.new_state,
            reason=t.reason,
        ):
            if isinstance(result, Exception):
                logger.error("replica_state_changed receiver %r raised %r", receiver, result)


def first_line(error: BaseException) -> str:
    """An error's first line, for logs and status (psycopg messages carry no secrets)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
