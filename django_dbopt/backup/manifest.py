"""The manifest: what a backup holds, written last (a backup without one does not exist),
and the verification record that ``dbopt_backups verify`` writes beside it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from django_dbopt.backup.container import Digests
from django_dbopt.backup.errors import BackupCorrupt

FORMAT = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Manifest:
    backup_id: str
    #: the Django alias it was taken from, and the database's own name
    database: str
    database_name: str
    #: ``"postgresql"`` or ``"sqlite"``
    engine: str
    server_version: str
    #: PostgreSQL's ``server_version_num`` (``None`` on SQLite)
    server_version_num: int | None
    key_id: str
    started_at: str
    finished_at: str = ""
    #: ``[{"name": "schema.table", "rows": n}]``, counted in the dump's own snapshot
    tables: list[dict[str, Any]] = field(default_factory=list)
    #: only some tables were dumped (``dbopt_migrate --backup``)
    partial: bool = False
    database_bytes: int | None = None
    plain_bytes: int = 0
    plain_sha256: str = ""
    stored_bytes: int = 0
    stored_sha256: str = ""
    chunks: int = 0
    compression: str = "zstd"
    #: applied Django migrations at backup time, ``"app_label.name"``
    migrations: list[str] = field(default_factory=list)
    reason: str = "manual"
    tool: str = ""
    format: int = FORMAT

    @property
    def started(self) -> datetime:
        return parse_time(self.started_at)

    def digests(self) -> Digests:
        return Digests(
            self.plain_bytes, self.plain_sha256, self.stored_bytes, self.stored_sha256, self.chunks
        )

    def row_counts(self) -> dict[str, int]:
        return {t["name"]: int(t["rows"]) for t in self.tables}

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str = "") -> Manifest:
        try:
            data = json.loads(raw)
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError) as e:
            raise BackupCorrupt(f"the manifest {where} is corrupt: {e}") from e


@dataclass
class Verification:
    backup_id: str
    ok: bool
    verified_at: str
    error: str | None = None
    #: number of entries ``pg_restore -l`` listed (PostgreSQL)
    archive_entries: int | None = None
    #: ``None``: no test-restore; else ``{"ok": bool, "mismatches": {...}}``
    restore_test: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Verification | None:
        try:
            data = json.loads(raw)
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError):
            return None
