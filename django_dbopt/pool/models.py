"""The placeholder model the pools admin page hangs off (no table, no permissions)."""

from __future__ import annotations

from django.db import models


class ConnectionPool(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        app_label = "django_dbopt"
        verbose_name = "connection pool"
        verbose_name_plural = "connection pools"

    def __str__(self) -> str:
        return "connection pools"
