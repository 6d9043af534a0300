"""System checks of ``DBOPT["MIGRATIONS"]``: E050-E051, and the new keys' validation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Tags, run_checks
from django.test import override_settings


def _ids(migrations: dict[str, Any]) -> list[str]:
    with override_settings(DBOPT={"MIGRATIONS": migrations}):
        messages = run_checks(tags=[Tags.compatibility])
    return [m.id for m in messages if m.id and "MIGRATIONS" in m.msg]  # type: ignore[misc]


def test_valid_ignores_are_clean() -> None:
    assert _ids({"IGNORE": ["shop.0002_add_index:DBM001", "shop.0003_x:*"]}) == []


@pytest.mark.parametrize("entry", ["shop.0002_add_index", "DBM001", "shop:DBM001", ""])
def test_malformed_ignore_is_e050(entry: str) -> None:
    assert _ids({"IGNORE": [entry]}) == ["django_dbopt.E050"]


def test_unknown_rule_is_e051() -> None:
    assert _ids({"IGNORE": ["shop.0002_add_index:DBM999"]}) == ["django_dbopt.E051"]


def test_new_keys_are_validated() -> None:
    assert _ids({"FAIL_ON": "sometimes"}) == ["django_dbopt.E003"]
    assert _ids({"BIG_TABLE_ROWS": 0}) == ["django_dbopt.E006"]
    assert _ids({"IGNORE": "shop.0002:DBM001"}) == ["django_dbopt.E003"]
