"""``manage.py dbopt_pool`` and the staff-only pools admin page."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from example_project.demo.models import User
from tests.pool_fixtures import held_elsewhere, pooled, pooled_alias  # noqa: F401


def _run(*args: str) -> str:
    out = StringIO()
    call_command("dbopt_pool", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_no_pooled_database_is_a_command_error() -> None:
    if any((c.get("OPTIONS") or {}).get("pool") for c in connections.settings.values()):
        pytest.skip("a pooled alias exists in this run")
    with pytest.raises(CommandError, match="No database has OPTIONS"):
        _run()


@pytest.mark.django_db
def test_bad_arguments_are_command_errors() -> None:
    with pytest.raises(CommandError):
        _run("--format", "yaml")
    with pytest.raises(CommandError, match="no OPTIONS"):
        _run("--database", "default")


@pytest.mark.usefixtures("pooled_alias")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pooled"])
def test_json_report_with_measured_numbers() -> None:
    with pooled(min_size=1, max_size=3) as wrapper:
        for _i in range(3):
            wrapper.ensure_connection()
            wrapper.close()
        (item,) = json.loads(_run("--database", "pooled", "--format", "json", "--processes", "50"))
    assert item["alias"] == "pooled"
    assert item["config"] == {
        "engine_managed": True,
        "min_size": 1,
        "max_size": 3,
        "timeout_s": 5.0,
        "session_reset": "dirty",
    }
    assert item["process"]["counters"]["checkouts"] == 3  # read before the server query
    assert item["server"]["max_connections"] == 200
    assert item["server"]["database_connections"] >= 1
    assert item["advice"]["action"] == "keep"
    assert "50 processes x max_size 3 = 150 connections fits in" in item["findings"][0]
    assert (
        "exceeds"
        in json.loads(_run("--database", "pooled", "--format", "json", "--processes", "100"))[0][
            "findings"
        ][0]
    )


@pytest.mark.usefixtures("pooled_alias")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pooled"])
def test_text_report() -> None:
    with pooled(min_size=1, max_size=2):
        text = _run("--database", "pooled", "-v", "2")
    assert "Pool of 'pooled'" in text
    assert "max_size 2, timeout 5.0 s, session reset dirty (django-dbopt engine)" in text
    assert "server: " in text
    assert "this process: no data" in text  # the command's own process had no pool yet
    assert "advice: no data" in text


@pytest.mark.usefixtures("pooled_alias")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pooled"])
def test_admin_page_is_staff_only_and_shows_holders(client: Client) -> None:
    url = reverse("admin:django_dbopt_connectionpool_changelist")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    member = User.objects.create_user("member@example.com", "pw")
    client.force_login(member)
    assert client.get(url).status_code == 302  # not staff
    admin = User.objects.create_superuser("root@example.com", "pw")
    client.force_login(admin)
    with pooled(min_size=1, max_size=2), held_elsewhere("pooled"):
        page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Connection pools" in html
    assert "pool_fixtures.py" in html  # where the held connection was taken
    assert "hold_connection()" in html
    assert "max_size 2" in html
