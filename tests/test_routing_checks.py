"""System checks for the replica router (E020, W020, W021, W022)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from django_dbopt.checks import check_routing

ROUTER = ["django_dbopt.routing.ReplicaRouter"]
MIDDLEWARE = ["django_dbopt.routing.ReadYourWritesMiddleware"]


def _ids() -> list[str]:
    return [m.id for m in check_routing()]  # type: ignore[misc]


@override_settings(DBOPT={}, DATABASE_ROUTERS=ROUTER, MIDDLEWARE=[])
def test_nothing_to_check_without_replicas() -> None:
    assert _ids() == []


def test_replicas_must_be_postgresql() -> None:
    with override_settings(
        DBOPT={"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}},
        DATABASE_ROUTERS=ROUTER,
        MIDDLEWARE=MIDDLEWARE,
    ):
        from django.conf import settings

        engines = [
            settings.DATABASES[a]["ENGINE"]
            for a in ("default", "replica")
            if a in settings.DATABASES
        ]
        expected = ["django_dbopt.E020" for e in engines if not e.endswith("postgresql")]
        assert _ids() == expected
        # the PostgreSQL run has none, the SQLite run one (its default is SQLite)
        assert len(expected) == (0 if engines[0].endswith("postgresql") else 1)


@override_settings(
    DBOPT={"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}},
    DATABASE_ROUTERS=ROUTER,
    MIDDLEWARE=[],
)
def test_router_without_the_middleware_warns() -> None:
    assert "django_dbopt.W020" in _ids()
    (message,) = [m for m in check_routing() if m.id == "django_dbopt.W020"]
    assert "ReadYourWritesMiddleware" in (message.hint or "")


@override_settings(
    DBOPT={"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}},
    DATABASE_ROUTERS=ROUTER,
)
def test_the_middleware_must_wrap_the_session_middleware() -> None:
    session = "django.contrib.sessions.middleware.SessionMiddleware"
    with override_settings(MIDDLEWARE=[session, *MIDDLEWARE]):
        assert "django_dbopt.W021" in _ids()
    with override_settings(MIDDLEWARE=[*MIDDLEWARE, session]):
        assert "django_dbopt.W021" not in _ids()
        assert "django_dbopt.W020" not in _ids()


@pytest.mark.parametrize("timeout", [None, "", 0, 30, "soon"])
def test_a_replica_without_a_short_connect_timeout_warns(
    timeout: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "x",
        "OPTIONS": {} if timeout is None else {"connect_timeout": timeout},
    }
    monkeypatch.setitem(settings.DATABASES, "slow_replica", replica)
    with override_settings(
        DBOPT={"ROUTING": {"REPLICAS": {"default": {"slow_replica": 1}}}},
        DATABASE_ROUTERS=ROUTER,
        MIDDLEWARE=MIDDLEWARE,
    ):
        found = [m for m in check_routing() if m.id == "django_dbopt.W022"]
        assert len(found) == 1
        assert "'slow_replica'" in found[0].msg
        assert "connect_timeout" in (found[0].hint or "")
        replica["OPTIONS"] = {"connect_timeout": 2}
        assert "django_dbopt.W022" not in _ids()
