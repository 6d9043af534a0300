"""Backup and recovery (DESIGN part 6; docs/backups.md).

Logical backups (``create_backup``, ``verify_backup``, ``restore_backup``, ``prune``)
need the ``compression`` and ``crypto`` extras (and ``s3`` for S3); physical backups and
point-in-time recovery go through pgBackRest (``physical.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_dbopt.backup.errors import (
    BackupCorrupt,
    BackupError,
    BackupNotFound,
    RestoreRefused,
    WrongKey,
)

if TYPE_CHECKING:
    from django_dbopt.backup.catalog import list_backups
    from django_dbopt.backup.create import create_backup
    from django_dbopt.backup.restore import restore_backup
    from django_dbopt.backup.retention import prune
    from django_dbopt.backup.verify import verify_backup

__all__ = [
    "BackupCorrupt",
    "BackupError",
    "BackupNotFound",
    "RestoreRefused",
    "WrongKey",
    "create_backup",
    "list_backups",
    "prune",
    "restore_backup",
    "verify_backup",
]


def __getattr__(name: str) -> object:
    # Lazy: importing the package must not need the optional extras.
    if name == "create_backup":
        from django_dbopt.backup.create import create_backup

        return create_backup
    if name == "verify_backup":
        from django_dbopt.backup.verify import verify_backup

        return verify_backup
    if name == "restore_backup":
        from django_dbopt.backup.restore import restore_backup

        return restore_backup
    if name == "list_backups":
        from django_dbopt.backup.catalog import list_backups

        return list_backups
    if name == "prune":
        from django_dbopt.backup.retention import prune

        return prune
    raise AttributeError(name)
