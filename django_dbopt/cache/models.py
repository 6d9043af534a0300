"""The admin page's placeholder model (no table: ``managed = False``)."""

from __future__ import annotations

from django.db import models


class CacheStats(models.Model):
    """Hangs the staff-only cache stats page in the admin (see ``cache/admin.py``)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "cache"
        verbose_name_plural = "cache"
        app_label = "django_dbopt"

    def __str__(self) -> str:
        return "cache"
