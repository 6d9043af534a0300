from __future__ import annotations

from django.apps import AppConfig


class MigrateAttackAppConfig(AppConfig):
    """Migrations the adversarial ``dbopt_migrate`` tests run for real."""

    name = "tests.migrate_attack_app"
    label = "migrate_attack_app"
    default_auto_field = "django.db.models.BigAutoField"
