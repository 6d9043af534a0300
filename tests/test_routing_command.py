"""``dbopt_replicas`` against the real standby."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.routing_fixtures import routed
from tests.services import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def test_text_and_json(services: Services) -> None:
    services.wait_for_replica()
    with routed():
        out = StringIO()
        call_command("dbopt_replicas", stdout=out, verbosity=2)
        text = out.getvalue()
        assert "primary default: primary, system " in text
        assert "replica" in text
        assert "healthy" in text
        assert "standby" in text
        out = StringIO()
        call_command("dbopt_replicas", "--format", "json", "--database", "replica", stdout=out)
        data = json.loads(out.getvalue())
    (replica,) = data["replicas"]
    assert replica["state"] == "healthy"
    assert replica["in_recovery"] is True
    assert replica["lag_bytes"] == 0
    assert replica["reads"] is None  # per process: not measured here
    assert data["primaries"][0]["timeline"] == 1


def test_watch_repeats(services: Services) -> None:
    with routed():
        out = StringIO()
        call_command(
            "dbopt_replicas", "--watch", "0.05", "--count", "2", "--format", "json", stdout=out
        )
    assert out.getvalue().count('"replicas"') == 2


def test_a_stopped_standby_is_reported_down(controllable_services: Services) -> None:
    controllable_services.stop_standby()
    try:
        with routed():
            out = StringIO()
            call_command("dbopt_replicas", stdout=out)
    finally:
        controllable_services.start_standby()
    assert "down" in out.getvalue()
    assert "last error:" in out.getvalue()


@pytest.mark.parametrize(
    "args",
    [["--watch", "0"], ["--count", "2"], ["--watch", "1", "--count", "0"]],
)
def test_bad_arguments(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("dbopt_replicas", *args, stdout=StringIO())


@override_settings(DBOPT={})
def test_nothing_configured() -> None:
    out = StringIO()
    call_command("dbopt_replicas", stdout=out)
    assert "No replicas configured" in out.getvalue()
