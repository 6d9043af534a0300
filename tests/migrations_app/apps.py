from __future__ import annotations

from django.apps import AppConfig


class MigrationsAppConfig(AppConfig):
    name = "tests.migrations_app"
    label = "migrations_app"
    default_auto_field = "django.db.models.BigAutoField"
