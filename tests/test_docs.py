"""The reference docs list every setting and every system-check id the code has."""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path

from django_dbopt.conf import DbOptSettings

DOCS = Path(__file__).resolve().parent.parent / "docs"
SOURCE = Path(__file__).resolve().parent.parent / "django_dbopt"


def test_every_setting_is_in_the_settings_reference() -> None:
    text = (DOCS / "settings.md").read_text()
    hints = typing.get_type_hints(DbOptSettings)
    missing = []
    for section in dataclasses.fields(DbOptSettings):
        if f"`{section.name.upper()}`" not in text:
            missing.append(section.name.upper())
        for key in dataclasses.fields(hints[section.name]):
            if f"| `{key.name.upper()}` |" not in text:
                missing.append(f"{section.name.upper()}.{key.name.upper()}")
    assert missing == []


def test_every_check_id_is_documented() -> None:
    ids = set()
    for path in SOURCE.rglob("*.py"):
        ids |= set(re.findall(r"django_dbopt\.[EW]\d{3}", path.read_text()))
    documented = set(re.findall(r"django_dbopt\.[EW]\d{3}", (DOCS / "checks.md").read_text()))
    assert ids, "no check ids found"
    assert sorted(ids - documented) == []


def test_no_path_of_a_developer_machine_in_the_repository() -> None:
    """Docs, usage lines and code say ``.venv/bin/python``, never where one machine keeps
    its checkout (the patterns are built so this file does not match itself)."""
    root = DOCS.parent
    machine = re.compile("|".join(re.escape("/" + p + "/") for p in ("work", "root", "home")))
    suffixes = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".html", ".sh", ""}
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "__")) and "egg-info" not in d]
        for name in (f for f in files if not f.startswith(".")):
            path = Path(folder, name)
            if path.suffix not in suffixes:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if machine.search(line) or str(root) in line:
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
