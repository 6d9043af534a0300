"""The reference docs list every setting and every system-check id the code has."""

from __future__ import annotations

import dataclasses
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
