"""What a ``dbopt_migrate`` run did: one ``RunRecord``, logged and appended as a JSON line
to ``DBOPT["MIGRATIONS"]["RUN_LOG"]`` when set (schema in docs/migrations.md)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt.migrate")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class StepRecord:
    migration: str
    atomic: bool
    #: ``"applied"``, ``"skipped"`` (already applied, or found done in the catalog),
    #: ``"failed"``, ``"interrupted"`` (SIGTERM/SIGINT) or ``"pending"`` (not reached)
    outcome: str = "pending"
    attempts: int = 0
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    dropped_invalid_indexes: list[str] = field(default_factory=list)
    #: the ``lock_timeout`` of each attempt
    lock_timeouts_ms: list[int] = field(default_factory=list)
    #: the longest a reader queued behind this migration's locks could have waited
    #: (measured per attempt: an atomic migration's transaction, else its longest statement)
    reader_wait_ms: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class RunRecord:
    database: str
    vendor: str
    targets: list[str]
    forced: bool
    started_at: str = field(default_factory=now)
    finished_at: str | None = None
    #: ``"applied"``, ``"nothing to do"``, ``"planned"`` (--plan), ``"refused"`` (lint),
    #: ``"locked"`` (another run), ``"failed"``, ``"interrupted"`` (SIGTERM/SIGINT)
    outcome: str = "pending"
    error: str | None = None
    lint: dict[str, int] = field(default_factory=dict)
    #: the plan's findings (not ignored): rule, severity, migration, operation, table
    findings: list[dict[str, Any]] = field(default_factory=list)
    migrations: list[StepRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the worst wait a reader could have seen behind this run's locks (``reader_wait_ms``
    #: of its migrations)
    worst_reader_wait_ms: int = 0
    #: ``--backup``: ``{"backup_id", "tables"}`` of the backup taken before the run
    backup: dict[str, Any] | None = None
    #: ``--rollback-on-failure``: ``{"done", "unapplied", "restored_tables", "error"?}``
    rollback: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write(record: RunRecord) -> None:
    record.finished_at = now()
    line = json.dumps(record.as_dict(), sort_keys=True)
    logger.info("dbopt_migrate run %s: %s", record.outcome, line)
    path = get_config().migrations.run_log
    if path:
        with Path(path).open("a", encoding="utf-8") as log:
            log.write(line + "\n")
