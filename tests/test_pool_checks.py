"""System checks for pooled aliases: E040-E048, W040-W044."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Tags, run_checks
from django.test import override_settings

from tests.pool_fixtures import MANAGED, extra_database

PG = "django.db.backends.postgresql"


def _conf(engine: str = MANAGED, pool: Any = True, **extra: Any) -> dict[str, Any]:
    return {"ENGINE": engine, "NAME": "x", "HOST": "127.0.0.1", "OPTIONS": {"pool": pool}, **extra}


def _ids(alias: str, conf: dict[str, Any]) -> dict[str, str]:
    with extra_database(alias, conf):
        # only the compatibility checks (ours): Django 6.1's model checks would connect to
        # every alias to ask about JSON support
        messages = run_checks(tags=[Tags.compatibility])
        return {m.id: m.hint for m in messages if alias in m.msg}  # type: ignore[misc]


def test_managed_pool_is_clean() -> None:
    assert _ids("poolok", _conf(pool={"min_size": 1, "max_size": 4})) == {}


def test_pool_on_sqlite_is_an_error() -> None:
    ids = _ids("poollite", {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"pool": True}})
    assert set(ids) == {"django_dbopt.E040"}
    assert "Remove OPTIONS['pool']" in ids["django_dbopt.E040"]


def test_pool_with_conn_max_age() -> None:
    ids = _ids("poolage", _conf(CONN_MAX_AGE=60))
    assert set(ids) == {"django_dbopt.E041"}
    assert "CONN_MAX_AGE to 0" in ids["django_dbopt.E041"]


def test_reserved_and_unknown_keys() -> None:
    ids = _ids("poolkeys", _conf(pool={"configure": print, "max_sise": 3}))
    assert set(ids) == {"django_dbopt.E045", "django_dbopt.E046"}
    assert "Did you mean 'max_size'" in ids["django_dbopt.E046"]


@pytest.mark.parametrize(
    "pool", [{"min_size": 5, "max_size": 2}, {"min_size": -1}, {"max_size": "ten"}]
)
def test_bad_sizes(pool: dict[str, Any]) -> None:
    assert set(_ids("poolsize", _conf(pool=pool))) == {"django_dbopt.E047"}


def test_pool_value_of_wrong_type() -> None:
    assert set(_ids("pooltype", _conf(pool="yes"))) == {"django_dbopt.E044"}


def test_plain_django_pool_warns_to_use_the_engine() -> None:
    ids = _ids("poolplain", _conf(engine=PG))
    assert set(ids) == {"django_dbopt.W040"}
    assert MANAGED in ids["django_dbopt.W040"]


def test_engine_without_pool_warns() -> None:
    assert set(_ids("poolless", _conf(pool=None))) == {"django_dbopt.W041"}


def test_psycopg2_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_dbopt.pool import checks

    monkeypatch.setattr(checks, "_is_psycopg3", lambda: False)
    assert "django_dbopt.E042" in _ids("poolpg2", _conf())


@override_settings(DBOPT={"POOL": {"HEALTH_DATABASES": ["nope"]}})
def test_health_databases_must_exist() -> None:
    messages = [m for m in run_checks(tags=[Tags.compatibility]) if m.id == "django_dbopt.E048"]
    assert len(messages) == 1
    assert "'nope'" in messages[0].msg


def test_budget_below_min_sizes_warns() -> None:
    with override_settings(DBOPT={"POOL": {"CONNECTION_BUDGET": 3}}):
        ids = _ids("poolbudget", _conf(pool={"min_size": 4, "max_size": 8}))
    assert "django_dbopt.W042" not in ids  # the message names the setting, not the alias
    with (
        override_settings(DBOPT={"POOL": {"CONNECTION_BUDGET": 3}}),
        extra_database("poolbudget", _conf(pool={"min_size": 4, "max_size": 8})),
    ):
        assert "django_dbopt.W042" in {m.id for m in run_checks(tags=[Tags.compatibility])}


@override_settings(DBOPT={"POOL": {"AUTO_RESIZE": True}})
def test_auto_resize_without_budget_warns() -> None:
    assert "django_dbopt.W043" in {m.id for m in run_checks(tags=[Tags.compatibility])}


def test_own_reset_callback_replaces_the_session_reset() -> None:
    ids = _ids("poolreset", _conf(pool={"reset": print}))
    assert set(ids) == {"django_dbopt.W044"}
    assert "Remove 'reset'" in ids["django_dbopt.W044"]
    with override_settings(DBOPT={"POOL": {"RESET_SESSION": "never"}}):
        assert _ids("poolreset", _conf(pool={"reset": print})) == {}


@pytest.mark.parametrize("mode", ["dirty", "always", "never", False])
def test_reset_session_modes_are_valid(mode: Any) -> None:
    with override_settings(DBOPT={"POOL": {"RESET_SESSION": mode}}):
        assert [
            m.id for m in run_checks(tags=[Tags.compatibility]) if "RESET_SESSION" in m.msg
        ] == []


@pytest.mark.parametrize("mode", [True, "sometimes"])
def test_reset_session_must_be_a_known_mode(mode: Any) -> None:
    with override_settings(DBOPT={"POOL": {"RESET_SESSION": mode}}):
        (message,) = [m for m in run_checks(tags=[Tags.compatibility]) if "RESET_SESSION" in m.msg]
    assert message.id == "django_dbopt.E003"
    assert "'dirty' or 'always' or 'never' or False" in message.msg
