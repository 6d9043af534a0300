"""What the backup part raises; every class is a ``DbOptError``."""

from __future__ import annotations

from django_dbopt.exceptions import DbOptError


class BackupError(DbOptError):
    """A backup, verify, restore or prune could not be done."""


class BackupCorrupt(BackupError):
    """Stored bytes do not decrypt, decompress or hash to what the manifest says."""


class WrongKey(BackupCorrupt):
    """The key named by the backup's key id does not open it."""


class RestoreRefused(BackupError):
    """A restore was refused before it touched anything (engine, version, space, verify)."""


class BackupNotFound(BackupError):
    """No backup with that id has a manifest in any configured storage."""
