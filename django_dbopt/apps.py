from __future__ import annotations

import importlib.util

from django.apps import AppConfig


class DbOptConfig(AppConfig):
    name = "django_dbopt"
    verbose_name = "Database optimization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Wiring only: no queries, no network.
        from django_dbopt import checks  # noqa: F401  (registers the system checks)
        from django_dbopt.pool import hooks as pool_hooks

        pool_hooks.install()  # request signals and the at-fork handler; no I/O

        # routing: the execute wrapper on new connections; Celery task headers if present
        from django_dbopt.routing.writes import connect_signals as connect_routing

        connect_routing()
        if importlib.util.find_spec("celery") is not None:
            from django_dbopt.routing.celery import connect_signals as connect_routing_celery

            connect_routing_celery()
        from django_dbopt.monitor import wiring as monitor_wiring

        monitor_wiring.connect()
