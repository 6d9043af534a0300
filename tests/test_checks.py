from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_dbopt.checks import check_installed, check_settings


@pytest.mark.django_db  # Django 6.1's model checks ask the database for its version
def test_clean_settings_pass() -> None:
    assert check_settings() == []
    call_command("check", stdout=StringIO())


@pytest.mark.django_db
@override_settings(DBOPT={"MONITOR": {"SLOW_QUERY_MS": "1s"}, "CACHEE": {}})
def test_bad_settings_are_system_check_errors_not_tracebacks() -> None:
    errors = check_settings()
    assert {e.id for e in errors} == {"django_dbopt.E002", "django_dbopt.E003"}
    assert all(e.hint for e in errors)
    with pytest.raises(SystemCheckError, match=r"django_dbopt.E003.*\n.*HINT"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


@override_settings(DBOPT={"CACHE": {"CACHE": "missing"}})
def test_unknown_cache_alias() -> None:
    (error,) = check_settings()
    assert error.id == "django_dbopt.E005"
    assert "'missing'" in error.msg


@override_settings(DBOPT={"ROUTING": {"REPLICAS": {"default": {"replica9": 1}}}})
def test_unknown_database_alias_and_missing_router() -> None:
    assert [e.id for e in check_settings()] == ["django_dbopt.E004"]
    assert [w.id for w in check_installed()] == ["django_dbopt.W001"]


@pytest.mark.parametrize("value", [[], {"ROUTING": []}, {"ROUTING": {"REPLICAS": "x"}}])
def test_malformed_sections_never_crash_the_checks(value: object) -> None:
    with override_settings(DBOPT=value):
        assert [e.id for e in check_settings()]  # reported...
        check_installed()  # ...and no exception from the other check


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_explain_database_must_be_postgresql() -> None:
    from django.conf import settings

    from django_dbopt.checks import check_monitor

    databases = {
        **settings.DATABASES,
        "lite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "pg": {"ENGINE": "django_dbopt.pool.postgresql", "NAME": "x"},
    }
    with override_settings(DATABASES=databases, DBOPT={"MONITOR": {"EXPLAIN_DATABASE": "lite"}}):
        errors = [m for m in check_monitor() if m.id == "django_dbopt.E021"]
    assert len(errors) == 1
    assert errors[0].hint
    with override_settings(DATABASES=databases, DBOPT={"MONITOR": {"EXPLAIN_DATABASE": "pg"}}):
        assert "django_dbopt.E021" not in [m.id for m in check_monitor()]
