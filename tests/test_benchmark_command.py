"""``manage.py dbopt_benchmark`` on whichever database the run uses (the SQLite run runs
the CRUD workload on the embedded default), its JSON, usage errors and the admin pages."""

from __future__ import annotations

import json
from io import StringIO

import jsonschema
import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings

from django_dbopt.benchmark.models import BenchmarkRun
from django_dbopt.benchmark.schema import SCHEMA
from example_project.demo.models import User

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUICK = ("--concurrency=1", "--duration=0.3", "--warmup=0.05", "--trials=2", "--no-ab")


def _run(*args: str) -> dict[str, object]:
    out, err = StringIO(), StringIO()
    call_command("dbopt_benchmark", *QUICK, *args, "--format=json", stdout=out, stderr=err)
    report: dict[str, object] = json.loads(out.getvalue())
    assert "workload crud" in err.getvalue()  # progress goes to stderr with --format json
    return report


def test_crud_runs_and_json_fits_the_schema() -> None:
    report = _run("--workloads=crud")
    jsonschema.validate(report, SCHEMA)
    (crud,) = report["workloads"]  # type: ignore[misc]
    assert crud["ops"] > 0
    assert crud["errors"] == 0, crud["error_samples"]
    assert crud["queries"]["per_op"] >= 1
    assert report["environment"]["database"]["vendor"] == connection.vendor  # type: ignore[index]
    assert report["calibration"]["ops_per_s"] > 0  # type: ignore[index]
    stored = BenchmarkRun.objects.get(pk=report["run_id"])
    assert stored.report["workloads"][0]["ops"] == crud["ops"]
    # the scratch tables are gone, the project's tables untouched
    tables = connection.introspection.table_names()
    assert "dbopt_bench_item" not in tables
    assert "users" in tables or User._meta.db_table in tables

    again = _run("--workloads=crud")
    comparison = again["workloads"][0]["comparison"]  # type: ignore[index]
    assert comparison["baseline_runs"] == [report["run_id"]]
    assert isinstance(comparison["floor_change"], float)  # the calibration floor's move


def test_text_report_shows_percentiles_and_grades() -> None:
    out = StringIO()
    call_command("dbopt_benchmark", *QUICK, "--workloads=crud", "--no-store", stdout=out)
    text = out.getvalue()
    assert "p99.9" in text
    assert "grades (overall" in text
    assert "average query time" in text
    assert "not stored" in text
    assert not BenchmarkRun.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workloads=crud,nope",), "unknown workload nope"),
        (("--duration=0",), "--duration must be positive"),
        (("--ab-parts=cache,x",), "unknown A/B part x"),
        (("--queryset=1 + 1",), "not a QuerySet"),
        (("--url=no-slash",), "starting with '/'"),
        (("--function=no.such.thing",), "--function"),
        (("--compare=999999",), "no stored benchmark run #999999"),
    ],
)
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("dbopt_benchmark", *QUICK, "--workloads=crud", *args, stdout=StringIO())


def test_admin_history_and_run_pages() -> None:
    report = _run("--workloads=crud", "--label=admin")
    staff = User.objects.create_user(email="staff@example.com", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/django_dbopt/benchmarkrun/")
    assert listing.status_code == 200
    assert b"<svg" in listing.content
    assert b"P99 latency per workload" in listing.content
    page = client.get(f"/admin/django_dbopt/benchmarkrun/{report['run_id']}/change/")
    assert page.status_code == 200
    assert b"latency histogram of crud" in page.content
    assert b"cdn" not in page.content.lower()

    staff_only = User.objects.create_user(email="staff2@example.com", password="x", is_staff=True)
    client.force_login(staff_only)
    assert client.get("/admin/django_dbopt/benchmarkrun/").status_code == 403

    outsider = User.objects.create_user(email="user@example.com", password="x")
    client.force_login(outsider)
    assert client.get("/admin/django_dbopt/benchmarkrun/").status_code == 302
    assert client.get(
        f"/admin/django_dbopt/benchmarkrun/{report['run_id']}/change/"
    ).status_code in (302, 403)


@override_settings(DBOPT={"BENCHMARK": {"TARGETS": {"NOPE": 1}, "WORKLOADS": ["bad"]}})
def test_checks_report_bad_targets_and_workloads() -> None:
    from django_dbopt.benchmark.checks import check_benchmark

    ids = sorted(m.id for m in check_benchmark())
    assert ids == ["django_dbopt.E070", "django_dbopt.E071"]


def test_open_loop_keeps_its_schedule() -> None:
    report = _run("--workloads=crud", "--mode=open", "--rate=40", "--concurrency=2")
    jsonschema.validate(report, SCHEMA)
    assert report["pattern"]["mode"] == "open"  # type: ignore[index]
    (crud,) = report["workloads"]  # type: ignore[misc]
    # 0.3 s at 40/s: 12 slots measured, every one run (none left unfinished)
    assert crud["ops"] + crud["errors"] + crud["unfinished"] == 12
    assert crud["errors"] == 0
