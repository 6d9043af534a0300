"""What the backup commands share: output formats, progress on terminals, summaries."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from typing import Any

from django.core.management.base import BaseCommand, OutputWrapper

from django_dbopt.backup.catalog import Entry
from django_dbopt.backup.progress import ProgressLine, human_bytes

#: exit statuses of the backup commands
FAILED, USAGE, CORRUPT, REFUSED = 1, 2, 3, 4


def progress_for(command: BaseCommand, options: dict[str, Any], label: str) -> Any:
    """A progress line on stderr when it is a terminal and the output is text."""
    if options.get("format") == "json" or int(options.get("verbosity", 1)) < 1:
        return None
    if not sys.stderr.isatty():
        return None
    return ProgressLine(sys.stderr, label)


def write_json(out: OutputWrapper, data: Any) -> None:
    out.write(json.dumps(plain(data), indent=2, sort_keys=True, default=str))


def plain(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return asdict(data)
    if isinstance(data, list):
        return [plain(d) for d in data]
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    return data


def entry_dict(entry: Entry) -> dict[str, Any]:
    return {
        "backup_id": entry.backup_id,
        "state": entry.state,
        "storages": entry.storages,
        "manifest": asdict(entry.manifest),
        "verification": asdict(entry.verification) if entry.verification else None,
    }


def entry_line(entry: Entry) -> str:
    m = entry.manifest
    what = "partial" if m.partial else "full"
    return (
        f"{m.backup_id}  {m.engine} {m.database}  {what}  {human_bytes(m.stored_bytes)}  "
        f"{len(m.tables)} tables  {entry.state}  [{', '.join(entry.storages)}]"
    )
