from __future__ import annotations

from django.apps import AppConfig


class BackupMigrateAppConfig(AppConfig):
    name = "tests.backup_migrate_app"
    label = "backup_migrate_app"
    default_auto_field = "django.db.models.BigAutoField"
