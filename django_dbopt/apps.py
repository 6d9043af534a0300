from __future__ import annotations

import importlib.util

from django.apps import AppConfig, apps


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

        # Two-tier cache: ORM caching hook and write detection (off until configured;
        # needs the ``redis`` extra).
        if importlib.util.find_spec("redis") is not None:
            from django.core.signals import setting_changed
            from django.db.backends.signals import connection_created

            from django_dbopt.cache import orm, writes

            orm.sync_install()  # wraps the ORM only while ORM_MODELS is set
            connection_created.connect(writes.install_on_connection, dispatch_uid="dbopt-cache")
            setting_changed.connect(writes.resync, dispatch_uid="dbopt-cache")
            if apps.is_installed("django.contrib.auth"):
                from django.contrib.auth.signals import user_logged_in

                from django_dbopt.cache.operations import preload_on_login

                user_logged_in.connect(preload_on_login, dispatch_uid="dbopt-cache-preload")
