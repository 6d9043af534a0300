"""Finding backups: every configured storage's manifests, merged by backup id."""

from __future__ import annotations

from dataclasses import dataclass, field

from django_dbopt.backup.errors import BackupError, BackupNotFound
from django_dbopt.backup.manifest import Manifest, Verification
from django_dbopt.backup.storage import MANIFEST, VERIFICATION, Storage, configured_storages


@dataclass
class Entry:
    manifest: Manifest
    #: the storages holding a copy, by name
    storages: list[str] = field(default_factory=list)
    #: the newest verification record among the copies (``None``: never verified)
    verification: Verification | None = None

    @property
    def backup_id(self) -> str:
        return self.manifest.backup_id

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.ok

    @property
    def state(self) -> str:
        if self.verification is None:
            return "not verified"
        return "verified" if self.verification.ok else "FAILED verification"


def manifest_in(storage: Storage, backup_id: str) -> Manifest | None:
    raw = storage.get(backup_id, MANIFEST)
    return None if raw is None else Manifest.from_json(raw, f"{storage.name}{backup_id}")


def verification_in(storage: Storage, backup_id: str) -> Verification | None:
    raw = storage.get(backup_id, VERIFICATION)
    return None if raw is None else Verification.from_json(raw)


def list_backups(
    database: str | None = None, storages: list[Storage] | None = None
) -> list[Entry]:
    """Every backup with a manifest, oldest first (``database``: that alias's only)."""
    found: dict[str, Entry] = {}
    for storage in storages or configured_storages():
        for backup_id in storage.backup_ids():
            manifest = manifest_in(storage, backup_id)
            if manifest is None or (database and manifest.database != database):
                continue  # no manifest: an unfinished or failed backup
            entry = found.setdefault(backup_id, Entry(manifest))
            entry.storages.append(storage.name)
            verification = verification_in(storage, backup_id)
            if verification is not None and (
                entry.verification is None
                or verification.verified_at > entry.verification.verified_at
            ):
                entry.verification = verification
    return sorted(found.values(), key=lambda e: (e.manifest.started_at, e.backup_id))


def holders(
    backup_id: str, storages: list[Storage] | None = None
) -> list[tuple[Storage, Manifest]]:
    """The storages holding ``backup_id`` with its manifest; ``BackupNotFound`` if none."""
    found = []
    for storage in storages or configured_storages():
        try:
            manifest = manifest_in(storage, backup_id)
        except BackupError:
            raise
        if manifest is not None:
            found.append((storage, manifest))
    if not found:
        raise BackupNotFound(
            f"no backup {backup_id!r} with a manifest in any storage (a backup without a "
            "manifest never finished: it does not exist)"
        )
    return found
