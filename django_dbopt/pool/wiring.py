"""Hooks the pool manager into Django and the process. Called from ``ready()``."""

from __future__ import annotations

import os

from django.core.signals import request_finished, request_started

from django_dbopt.pool.hooks import after_fork_in_child, on_request_finished, on_request_started

_forks_hooked = False


def connect() -> None:
    """Connect the request signals and register the at-fork handler (idempotent; no I/O)."""
    global _forks_hooked
    request_started.connect(on_request_started, dispatch_uid="django_dbopt.pool.started")
    request_finished.connect(on_request_finished, dispatch_uid="django_dbopt.pool.finished")
    if not _forks_hooked:  # an at-fork handler cannot be unregistered: register it once
        _forks_hooked = True
        os.register_at_fork(after_in_child=after_fork_in_child)
