"""The placeholder model the backups admin page hangs off (no table, no permissions)."""

from __future__ import annotations

from django.db import models


class BackupsPage(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        app_label = "django_dbopt"
        verbose_name = "backup"
        verbose_name_plural = "backups"

    def __str__(self) -> str:
        return "backups"
