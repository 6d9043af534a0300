"""Alerts: fired and resolved off the request path on real conditions (paused replay on
the real standby, slow queries on the real primary), with signals, log lines, history,
mail and a webhook; the same rules as a Prometheus rules file; settings checked."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse

from django_dbopt.monitor import scope
from django_dbopt.monitor.flush import ensure_flusher, flush_now, stop_flusher
from django_dbopt.ops import alerts
from django_dbopt.ops.checks import check_alert_rules
from django_dbopt.ops.measures import Measurement
from django_dbopt.ops.models import Alert
from django_dbopt.signals import alert_fired, alert_resolved
from example_project.demo.models import User
from tests.monitor_fixtures import fresh_monitor  # noqa: F401
from tests.services import Services


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Received:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.seen.append(kwargs)


@pytest.fixture
def received() -> Iterator[dict[str, Received]]:
    out = {"fired": Received(), "resolved": Received()}
    alert_fired.connect(out["fired"])
    alert_resolved.connect(out["resolved"])
    alerts.reset()
    yield out
    alert_fired.disconnect(out["fired"])
    alert_resolved.disconnect(out["resolved"])
    alerts.reset()


@pytest.fixture(autouse=True)
def _no_probe_left_running() -> Iterator[None]:
    """The replica-lag measure asks the router's probes, which keep connections to the
    test database open in their thread: stop them after each test, or the suite's final
    DROP DATABASE waits for them."""
    yield
    from django_dbopt.routing.health import monitor

    monitor.reset()


def _open(rule: str, subject: str) -> Alert | None:
    return Alert.objects.filter(rule=rule, subject=subject, resolved_at__isnull=True).first()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_replica_lag_alert_fires_while_replay_is_paused_and_resolves_after(
    services: Services, received: dict[str, Received], caplog: pytest.LogCaptureFixture
) -> None:
    settings = {
        "ROUTING": {"REPLICAS": {"default": {"replica": 1}}},
        "MONITOR": {"FLUSH_INTERVAL_S": 0.2},
        "ALERTS": {"INTERVAL_S": 0.2, "RULES": {"replica_lag_s": {"THRESHOLD": 1, "FOR_S": 1}}},
    }
    with override_settings(DBOPT=settings), caplog.at_level(logging.INFO, "django_dbopt.alerts"):
        stop_flusher()
        ensure_flusher()  # the monitor's flush thread evaluates the rules: no request involved
        try:
            with services.replay_paused():
                with connections["default"].cursor() as cursor:
                    cursor.execute("CREATE TABLE IF NOT EXISTS alert_lag (v int)")
                    cursor.execute("INSERT INTO alert_lag VALUES (1)")
                fired = wait_for(lambda: _open("replica_lag_s", "replica"), 60, "the alert")
                assert fired.value > 1
                assert fired.severity == "critical"
                assert "replica replica of default" in fired.evidence
                assert fired.url == reverse("admin:django_dbopt_replicastatuspage_changelist")
            services.wait_for_replica()
            wait_for(
                lambda: Alert.objects.filter(pk=fired.pk, resolved_at__isnull=False).exists(),
                60,
                "the alert to resolve",
            )
        finally:
            stop_flusher()
            with connections["default"].cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS alert_lag")
    assert [k["subject"] for k in received["fired"].seen] == ["replica"]
    assert [k["subject"] for k in received["resolved"].seen] == ["replica"]
    assert received["fired"].seen[0]["rule"] == "replica_lag_s"
    lines = [r for r in caplog.records if r.name == "django_dbopt.alerts"]
    fired_line = next(r for r in lines if r.getMessage().startswith("alert fired"))
    assert "rule=replica_lag_s subject=replica severity=critical" in fired_line.getMessage()
    assert fired_line.alert_rule == "replica_lag_s"  # type: ignore[attr-defined]
    assert any(r.getMessage().startswith("alert resolved") for r in lines)
    assert Alert.objects.filter(rule="replica_lag_s").count() == 1  # one row: fired, resolved


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_monitor")
def test_slow_average_query_time_fires_naming_the_fingerprint(
    received: dict[str, Received],
) -> None:
    with scope("demo:report"), connections["default"].cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT pg_sleep(0.06)")
    flush_now()
    rules = {"ALERTS": {"RULES": {"query_avg_ms": {"FOR_S": 0}}}}
    with override_settings(DBOPT=rules):
        done = alerts.evaluate()
    assert done["fired"] == ["query_avg_ms:queries"]
    alert = _open("query_avg_ms", "queries")
    assert alert is not None
    assert alert.value > 50
    fp = alert.url.rstrip("/").rsplit("/", 1)[-1]
    assert f"fingerprint {fp}" in alert.evidence
    assert alert.url == reverse("admin:dbopt_monitor_detail", args=[fp])


# -- delivery, through the backup-age extension point ---------------------------------
AGE = {"value": 0.0}


def backup_age() -> list[Measurement]:
    """A custom measure, as the backups part would provide."""
    return [Measurement("nightly", AGE["value"], "newest backup of nightly", "/backups/")]


class Hook(http.server.BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hook.bodies = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.mark.django_db
def test_custom_rule_with_duration_mail_and_webhook(
    webhook: str, received: dict[str, Received]
) -> None:
    rules = {
        "backup_age_s": {
            "MEASURE": f"{__name__}.backup_age",
            "THRESHOLD": 3600,
            "FOR_S": 0.3,
            "SEVERITY": "warning",
        }
    }
    config = {"ALERTS": {"RULES": rules, "MAIL_ADMINS": True, "WEBHOOK_URL": webhook}}
    with override_settings(DBOPT=config, ADMINS=[("Ops", "ops@example.com")]):
        AGE["value"] = 7200.0
        assert alerts.evaluate()["fired"] == []  # must hold for FOR_S first
        wait_for(lambda: alerts.evaluate()["fired"], 10, "the condition to hold 0.3 s")
        assert alerts.evaluate()["fired"] == []  # firing already: not again
        AGE["value"] = 60.0
        assert alerts.evaluate()["resolved"] == ["backup_age_s:nightly"]
    assert [m.subject for m in mail.outbox] == [
        "[Django] [warning] fired: age of the newest backup of nightly: 7200 s > 3600 s for 0.3 s",
        "[Django] [warning] resolved: age of the newest backup of nightly: 7200 s > 3600 s "
        "for 0.3 s",
    ]
    assert [b["status"] for b in Hook.bodies] == ["fired", "resolved"]
    assert Hook.bodies[0]["evidence"] == "newest backup of nightly"
    assert Hook.bodies[1]["value"] == 60.0


@pytest.mark.django_db
def test_a_failing_webhook_is_logged_not_raised(
    received: dict[str, Received], caplog: pytest.LogCaptureFixture
) -> None:
    rules = {"backup_age_s": {"MEASURE": f"{__name__}.backup_age", "FOR_S": 0}}
    config = {"ALERTS": {"RULES": rules, "WEBHOOK_URL": "http://127.0.0.1:9/nothing"}}
    AGE["value"] = 10**6
    with override_settings(DBOPT=config), caplog.at_level(logging.ERROR):
        assert alerts.evaluate()["fired"] == ["backup_age_s:nightly"]
    assert any("alert webhook failed" in r.getMessage() for r in caplog.records)


def test_prometheus_rules_file_carries_the_same_rules(tmp_path: Path) -> None:
    target = tmp_path / "dbopt.rules.yml"
    rules = {"ALERTS": {"RULES": {"replica_lag_s": {"THRESHOLD": 3, "FOR_S": 45}}}}
    with override_settings(DBOPT=rules):
        call_command("dbopt_alerts", "--prometheus-rules", str(target), stdout=StringIO())
    loaded = yaml.safe_load(target.read_text())
    group = loaded["groups"][0]
    by_name = {r["labels"]["dbopt_rule"]: r for r in group["rules"]}
    assert set(by_name) == {"query_avg_ms", "cache_hit_ratio", "pool_utilization", "replica_lag_s"}
    assert by_name["replica_lag_s"]["expr"].endswith(") > 3")
    assert by_name["replica_lag_s"]["for"] == "45s"
    assert by_name["query_avg_ms"]["expr"].endswith(") > 50")
    assert by_name["cache_hit_ratio"]["expr"].endswith(") < 0.8")
    assert by_name["pool_utilization"]["labels"]["severity"] == "critical"
    source = (Path(__file__).parent.parent / "django_dbopt" / "metrics.py").read_text()
    for family in (
        "dbopt_query_duration_seconds",
        "dbopt_pool_connections",
        "dbopt_database_replica_lag_seconds",
    ):
        assert f'"{family}"' in source  # the expressions read families metrics.py exports
    assert 'f"dbopt_cache_{name}"' in source
    assert '"hits"' in source
    assert '"misses"' in source


def test_rule_settings_are_checked() -> None:
    bad = {
        "ALERTS": {
            "RULES": {
                "latency": {},
                "replica_lag_s": {"THRESHOLD": float("nan"), "SEVERITY": "page", "WHEN": 1},
                "backup_age_s": {"MEASURE": "no.such.function"},
            }
        }
    }
    with override_settings(DBOPT=bad):
        ids = sorted(m.id for m in check_alert_rules())
    assert ids == [
        "django_dbopt.E080",
        "django_dbopt.E081",
        "django_dbopt.E081",
        "django_dbopt.E081",
        "django_dbopt.E082",
    ]


@pytest.mark.django_db
def test_alert_history_in_the_admin(client: Client) -> None:
    from django.utils import timezone

    Alert.objects.create(
        rule="replica_lag_s",
        subject="replica",
        severity="critical",
        threshold=10,
        value=12,
        last_value=0,
        message="replica replay lag of replica: 12s > 10s for 30 s",
        evidence="replica replica of default",
        url="/admin/",
        fired_at=timezone.now(),
        resolved_at=timezone.now(),
    )
    staff = User.objects.create_user("staff@example.com", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:django_dbopt_alert_changelist")).status_code == 403
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    page = client.get(reverse("admin:django_dbopt_alert_changelist"))
    assert page.status_code == 200
    assert b"replica replay lag of replica" in page.content
    assert b"resolved " in page.content
