from __future__ import annotations

import importlib.util

from django.apps import AppConfig


class DbOptConfig(AppConfig):
    name = "django_dbopt"
    verbose_name = "Database optimization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Wiring only: one connect() per part (receivers, hooks, at-fork handlers; each
        # idempotent), and the system checks. No queries, no network.
        from django_dbopt import checks
        from django_dbopt.monitor import wiring as monitor_wiring
        from django_dbopt.pool import wiring as pool_wiring
        from django_dbopt.routing import wiring as routing_wiring

        checks.register_all()
        pool_wiring.connect()
        routing_wiring.connect()  # with Celery's task signals when Celery is installed
        monitor_wiring.connect()
        # The two-tier cache needs the ``redis`` extra; it is off until configured.
        if importlib.util.find_spec("redis") is not None:
            from django_dbopt.cache import wiring as cache_wiring

            cache_wiring.connect()
