"""Hooks the two-tier cache into Django and the process. Called from ``ready()`` when the
``redis`` extra is installed; off until configured (no I/O here)."""

from __future__ import annotations

import atexit
import os

from django.apps import apps
from django.core.signals import setting_changed
from django.db.backends.signals import connection_created

from django_dbopt.cache import generations, patches, plans, shared, writes
from django_dbopt.cache.operations import preload_on_login

_process_hooked = False


def _after_fork_in_child() -> None:
    generations.new_lock_after_fork()
    shared.reset_after_fork()


def connect() -> None:
    """Install the ORM patches (while ``ORM_MODELS`` is set), connect the receivers and
    register the process hooks (idempotent)."""
    global _process_hooked
    if not _process_hooked:  # process hooks cannot be unregistered: register them once
        _process_hooked = True
        os.register_at_fork(after_in_child=_after_fork_in_child)
        atexit.register(shared.release_at_exit)
    patches.sync_install()
    setting_changed.connect(plans.forget, dispatch_uid="django_dbopt.cache.plans")
    setting_changed.connect(patches.resync, dispatch_uid="django_dbopt.cache.patches")
    connection_created.connect(
        writes.install_on_connection, dispatch_uid="django_dbopt.cache.writes"
    )
    setting_changed.connect(writes.resync, dispatch_uid="django_dbopt.cache.writes")
    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.signals import user_logged_in  # needs the auth app

        user_logged_in.connect(preload_on_login, dispatch_uid="django_dbopt.cache.preload")
