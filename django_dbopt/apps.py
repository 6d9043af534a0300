from __future__ import annotations

from django.apps import AppConfig


class DbOptConfig(AppConfig):
    name = "django_dbopt"
    verbose_name = "Database optimization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Wiring only: no queries, no network.
        from django_dbopt import checks  # noqa: F401  (registers the system checks)
        from django_dbopt.monitor import wiring as monitor_wiring

        monitor_wiring.connect()
