"""Hooks the monitor into Django (and Celery, when installed). Called from ``ready()``."""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.db.backends.signals import connection_created

from django_dbopt.monitor.capture import finish_scope, install, new_scope, reset_runtime
from django_dbopt.monitor.scope import Scope, current

_task_scopes: dict[str, tuple[Scope, Any]] = {}


def _task_started(*, task_id: str, task: Any, **kwargs: Any) -> None:
    scope = new_scope(f"task:{getattr(task, 'name', task)}")
    _task_scopes[task_id] = (scope, current.set(scope))


def _task_finished(*, task_id: str, **kwargs: Any) -> None:
    opened = _task_scopes.pop(task_id, None)
    if opened is None:
        return
    scope, token = opened
    try:
        current.reset(token)
    except ValueError:  # reset from another context (an eager task inside a task)
        current.set(None)
    finish_scope(scope)


def _worker_started(**kwargs: Any) -> None:
    from django_dbopt.monitor.flush import ensure_flusher

    ensure_flusher()


def connect() -> None:
    connection_created.connect(install, dispatch_uid="django_dbopt.monitor.install")
    setting_changed.connect(reset_runtime, dispatch_uid="django_dbopt.monitor.runtime")
    try:
        from celery import signals as celery_signals
    except ImportError:  # Celery is an optional extra
        return
    celery_signals.task_prerun.connect(_task_started, dispatch_uid="django_dbopt.monitor.prerun")
    celery_signals.task_postrun.connect(
        _task_finished, dispatch_uid="django_dbopt.monitor.postrun"
    )
    celery_signals.worker_process_init.connect(
        _worker_started, dispatch_uid="django_dbopt.monitor.worker"
    )
    celery_signals.worker_ready.connect(_worker_started, dispatch_uid="django_dbopt.monitor.ready")
