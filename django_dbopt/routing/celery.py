"""Read-your-writes for Celery tasks (connected by ``routing.wiring`` when Celery is installed).

A task published from a scope that wrote (a request, another task, ``routing_scope()``)
carries the scope's WAL positions in a signed message header; the worker runs the task in
a scope that requires them, so the task reads its publisher's writes.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Any

from django_dbopt.conf import get_config
from django_dbopt.routing import tokens
from django_dbopt.routing.health import monitor
from django_dbopt.routing.scope import Scope, current_scope
from django_dbopt.routing.writes import flush_positions

logger = logging.getLogger("django_dbopt.routing")

HEADER = "dbopt_positions"

_running: dict[str, Token[Scope | None]] = {}


def on_publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    scope = current_scope.get()
    if scope is None or headers is None:
        return
    flush_positions(scope)
    positions = scope.outgoing()
    if positions:
        headers[HEADER] = tokens.dumps(positions)


def on_prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None or task is None:
        return
    scope = Scope()
    request = task.request
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if isinstance(value, str):
        config = get_config().routing
        positions = tokens.valid_positions(
            tokens.loads(value, config.cookie_max_age_s),
            monitor.identities,
            set(config.replicas),
        )
        for primary, position in positions.items():
            scope.require(primary, position)
    _running[task_id] = current_scope.set(scope)


def on_postrun(task_id: str | None = None, **kwargs: Any) -> None:
    token = _running.pop(task_id, None) if task_id is not None else None
    if token is None:
        return
    try:
        current_scope.reset(token)
    except ValueError:  # postrun ran in another context than prerun
        current_scope.set(None)
