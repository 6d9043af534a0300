"""System checks of DBOPT['BACKUP'] (E060-E064, W060-W062)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_dbopt.backup.checks import check_backup_settings
from tests.backup_fixtures import KEY, OTHER_KEY


def ids(backup: dict[str, Any]) -> list[str]:
    with override_settings(DBOPT={"BACKUP": backup}):
        messages = check_backup_settings()
    assert all(m.hint for m in messages)
    return sorted(str(m.id) for m in messages)


def test_nothing_to_say_without_a_backup_section() -> None:
    with override_settings(DBOPT={}):
        assert check_backup_settings() == []


def test_a_good_configuration_is_silent() -> None:
    assert ids({"ENCRYPTION_KEYS": {"k1": KEY}}) == []
    assert ids({"ENCRYPTION_KEYS": {"k1": KEY, "k2": OTHER_KEY}, "ENCRYPTION_KEY_ID": "k2"}) == []


def test_no_key_warns() -> None:
    assert ids({"LOCATION": "b"}) == ["django_dbopt.W060"]


@pytest.mark.parametrize(
    ("backup", "expected"),
    [
        ({"ENCRYPTION_KEYS": {"k1": KEY}, "ENCRYPTION_KEY_ID": "k9"}, "django_dbopt.E060"),
        ({"ENCRYPTION_KEYS": {"k1": KEY, "k2": OTHER_KEY}}, "django_dbopt.E061"),
        ({"ENCRYPTION_KEYS": {"k1": "not base64!"}}, "django_dbopt.E062"),
        ({"ENCRYPTION_KEYS": {"k1": "c2hvcnQ="}}, "django_dbopt.E062"),
        ({"ENCRYPTION_KEYS": {"k1": KEY}, "LOCATION": None}, "django_dbopt.E063"),
        ({"ENCRYPTION_KEYS": {"k1": "env:DBOPT_TEST_NO_SUCH_VARIABLE"}}, "django_dbopt.W061"),
    ],
)
def test_each_problem_has_its_id(backup: dict[str, Any], expected: str) -> None:
    assert ids(backup) == [expected]


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBOPT_TEST_BACKUP_KEY", KEY)
    assert ids({"ENCRYPTION_KEYS": {"k1": "env:DBOPT_TEST_BACKUP_KEY"}}) == []
    monkeypatch.setenv("DBOPT_TEST_BACKUP_KEY", "short")
    assert ids({"ENCRYPTION_KEYS": {"k1": "env:DBOPT_TEST_BACKUP_KEY"}}) == ["django_dbopt.E062"]


def test_pgbackrest_missing_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    backup = {"ENCRYPTION_KEYS": {"k1": KEY}, "PGBACKREST_STANZA": "main"}
    assert ids(backup) == ["django_dbopt.W062"]


def test_bad_types_are_left_to_e003() -> None:
    assert ids({"ENCRYPTION_KEYS": "k1"}) == []
