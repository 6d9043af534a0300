"""psycopg_pool internals used by the managed pool exist (issue 11, item 17): a start-up
check (``E039``) names any that a psycopg_pool release lacks, instead of an
``AttributeError`` during a request."""

from __future__ import annotations

from typing import Any

import psycopg_pool
import pytest
from django.core.checks import Tags, run_checks

from django_dbopt.pool import compat


def test_the_installed_psycopg_pool_has_every_internal_used() -> None:
    assert compat.missing_internals(psycopg_pool.ConnectionPool) == []


class _RenamedInternals(psycopg_pool.ConnectionPool):  # type: ignore[misc]
    """A release that renamed ``_waiting``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self._waiting


def test_missing_internals_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert compat.missing_internals(_RenamedInternals) == ["_waiting"]
    monkeypatch.setattr(compat, "CLASS_NAMES", (*compat.CLASS_NAMES, "_renamed_in_3_4"))
    assert compat.missing_internals(psycopg_pool.ConnectionPool) == ["_renamed_in_3_4"]


def test_the_check_reports_them_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "CLASS_NAMES", (*compat.CLASS_NAMES, "_renamed_in_3_4"))
    monkeypatch.setattr(compat, "uses_managed_engine", lambda: True)
    messages = [m for m in run_checks(tags=[Tags.compatibility]) if m.id == "django_dbopt.E039"]
    assert len(messages) == 1
    assert "_renamed_in_3_4" in messages[0].msg
    assert "psycopg-pool>=3.3,<3.4" in (messages[0].hint or "")


def test_no_message_without_the_managed_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "CLASS_NAMES", ("_renamed_in_3_4",))
    monkeypatch.setattr(compat, "uses_managed_engine", lambda: False)
    assert compat.check_pool_internals() == []
