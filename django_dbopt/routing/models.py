"""The unmanaged placeholder model the replica status admin page hangs off (no table)."""

from __future__ import annotations

from django.db import models


class ReplicaStatusPage(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "replica status"
        verbose_name_plural = "replica status"
        db_table = "django_dbopt_replica_status_placeholder"

    def __str__(self) -> str:
        return "replica status"
