"""Hooks replica routing into Django (and Celery, when installed). Called from ``ready()``."""

from __future__ import annotations

import os

from django.core.signals import setting_changed
from django.db.backends.signals import connection_created

from django_dbopt.routing import counters, health, watchdog, writes

_forks_hooked = False


def _after_fork_in_child() -> None:
    """A child process counts its own decisions and starts its own probe threads."""
    counters.clear()
    watchdog.watchdog.after_fork()
    health.monitor.after_fork()


def connect() -> None:
    """Connect routing's receivers and register its at-fork handler (idempotent; no I/O)."""
    global _forks_hooked
    connection_created.connect(
        writes.install_on_connection, dispatch_uid="django_dbopt.routing.writes"
    )
    setting_changed.connect(writes.resync, dispatch_uid="django_dbopt.routing.writes")
    setting_changed.connect(health.on_setting_changed, dispatch_uid="django_dbopt.routing.health")
    if not _forks_hooked:  # an at-fork handler cannot be unregistered: register it once
        _forks_hooked = True
        os.register_at_fork(after_in_child=_after_fork_in_child)
    try:
        from celery import signals as celery_signals
    except ImportError:  # Celery is an optional extra
        return
    from django_dbopt.routing import celery

    celery_signals.before_task_publish.connect(
        celery.on_publish, dispatch_uid="django_dbopt.routing.publish", weak=False
    )
    celery_signals.task_prerun.connect(
        celery.on_prerun, dispatch_uid="django_dbopt.routing.prerun", weak=False
    )
    celery_signals.task_postrun.connect(
        celery.on_postrun, dispatch_uid="django_dbopt.routing.postrun", weak=False
    )
