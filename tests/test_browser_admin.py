"""The admin pages in a real browser (Debian's chromium and chromium-driver, driven by
Selenium against pytest-django's ``live_server``): every django-dbopt page opens with
real data, charts render (SVG with a non-zero size), the browser logs no error, and a
screenshot of each page is kept (``DBOPT_SCREENSHOTS`` or a folder under pytest's tmp
path). A non-staff user and a staff user without the report permission are refused.

Skipped, with the reason, when chromium, its driver or Selenium is missing; CI installs
them (``.ci/run``) and sets ``DBOPT_REQUIRE_BROWSER``, which turns the skip into a
failure. Selenium Manager is never asked for anything: the driver's path and the
browser's are given, and it runs offline.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse

from django_dbopt.monitor.flush import flush_now
from django_dbopt.monitor.report import fingerprint_rows
from django_dbopt.monitor.store import get_store
from django_dbopt.ops import alerts
from example_project.demo.load import run
from example_project.demo.models import User
from example_project.demo.seeding import seed
from tests.monitor_fixtures import MIDDLEWARE_PATH, fresh_monitor  # noqa: F401

DRIVER = os.environ.get("DBOPT_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
#: seconds of load-script traffic before the pages are opened (60 for the demo's minute)
LOAD_S = float(os.environ.get("DBOPT_BROWSER_LOAD_S", "8"))
PASSWORD = "browser-test-pw"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(
        transaction=True, databases=[a for a in ("default", "replica") if a in settings.DATABASES]
    ),
    pytest.mark.usefixtures("fresh_monitor"),
]


def _missing(reason: str) -> None:
    if os.environ.get("DBOPT_REQUIRE_BROWSER"):  # CI installs the browser: never skip there
        pytest.fail(reason)
    pytest.skip(reason)


def _chromium() -> str:
    if importlib.util.find_spec("selenium") is None:
        _missing("selenium is not installed (the dev extra)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        _missing("chromium is not installed (Debian: apt-get install chromium)")
    if not os.access(DRIVER, os.X_OK):
        _missing(f"no chromedriver at {DRIVER} (Debian: apt-get install chromium-driver)")
    assert browser is not None
    return browser


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    binary = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never download
    options = Options()
    for flag in FLAGS:
        options.add_argument(flag)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("DBOPT_SCREENSHOTS")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


def _stack() -> dict[str, Any]:
    """Routing and the two-tier cache on when the run has a replica and Redis."""
    if connections["default"].vendor != "postgresql":
        return {"DBOPT": {"MONITOR": {"FLUSH_INTERVAL_S": 0, "BUCKET_S": 4}}}
    from tests.cache_fixtures import caches_setting

    return {
        "DATABASE_ROUTERS": ["django_dbopt.routing.ReplicaRouter"],
        "CACHES": caches_setting("browser"),
        "DBOPT": {
            "MONITOR": {"FLUSH_INTERVAL_S": 0, "BUCKET_S": 4, "NPLUSONE_MIN_TOTAL_MS": 0},
            "ROUTING": {"REPLICAS": {"default": {"replica": 1}}},
            "CACHE": {"ORM_MODELS": ["demo"]},
        },
    }


def _traffic(live_url: str) -> None:
    """The demo's load script over HTTP in phases (one store bucket each), and the demo's
    pages through the monitor's middleware (per-view numbers and the N+1)."""
    phases = max(int(LOAD_S // 2), 2)
    for _ in range(phases):
        # two clients at once: the threaded live server, the cache's codec shared by both
        result = run(live_url, seconds=LOAD_S / phases, threads=2, users=20)
        assert result.requests > 0
        assert set(result.statuses) == {"200"}, result.statuses
        flush_now()
    client = Client()
    with override_settings(MIDDLEWARE=[MIDDLEWARE_PATH, *settings.MIDDLEWARE]):
        for name in ("demo:tasks_nplusone", "demo:tasks_fixed", "demo:dashboard"):
            for _ in range(3):
                assert client.get(reverse(name)).status_code == 200
    flush_now()
    rules = {"RULES": {"query_avg_ms": {"THRESHOLD": 0.001, "FOR_S": 0}}}
    with override_settings(DBOPT={**settings.DBOPT, "ALERTS": rules}):
        alerts.reset()
        alerts.evaluate()  # real measurements against a lowered threshold: one alert fires


def _login(driver: Any, base: str, email: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form#login-form").submit()


def _errors(driver: Any) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]  # no icon: not ours
    ]


def _screenshot(driver: Any, folder: Path, name: str) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height) + 200, 800), 6000))
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def _pages(fingerprint: str) -> list[tuple[str, str, bool]]:
    """(name, URL, has charts) of every django-dbopt admin page."""
    return [
        ("overview", reverse("admin:app_list", args=["django_dbopt"]) + "?since=5m", True),
        ("overview-page", reverse("admin:django_dbopt_overviewpage_changelist"), True),
        ("queries", reverse("admin:dbopt_monitor_queries") + "?since=1h", False),
        ("fingerprint", reverse("admin:dbopt_monitor_detail", args=[fingerprint]), True),
        ("nplusone", reverse("admin:dbopt_monitor_nplusone"), False),
        ("advice", reverse("admin:dbopt_monitor_advice"), False),
        ("cache", reverse("admin:django_dbopt_cachestats_changelist"), False),
        ("pools", reverse("admin:django_dbopt_connectionpool_changelist"), False),
        ("replicas", reverse("admin:django_dbopt_replicastatuspage_changelist"), False),
        ("alerts", reverse("admin:django_dbopt_alert_changelist"), False),
    ]


def test_every_page_renders_with_charts_and_no_console_error(
    browser: Any, live_server: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    with override_settings(**_stack()):
        seed(users=20, tasks=200, audit_logs=100, random_seed=3)
        _traffic(live_server.url)
        User.objects.create_superuser("root@example.com", PASSWORD)
        _login(browser, live_server.url, "root@example.com")
        assert "Site administration" in browser.title, browser.title
        rows = fingerprint_rows(get_store().load(None))
        busiest = max(rows, key=lambda r: r["calls"])["fingerprint"]
        for name, url, charts in _pages(busiest):
            browser.get(live_server.url + url)
            assert "Log in" not in browser.title, name
            assert "Server Error" not in browser.page_source, name
            svgs = browser.find_elements(By.CSS_SELECTOR, "svg.dbopt-chart, svg#dbopt-histogram")
            if charts:
                assert svgs, f"{name}: no chart"
                for svg in svgs:
                    size = svg.size
                    assert size["width"] > 0, name
                    assert size["height"] > 0, name
            assert _errors(browser) == [], name
            assert _screenshot(browser, shots, name).stat().st_size > 0


def test_non_staff_and_staff_without_permission_are_refused(
    browser: Any, live_server: Any, shots: Path
) -> None:
    User.objects.create_user("plain@example.com", PASSWORD)
    staff = User.objects.create_user("staff@example.com", PASSWORD, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    queries = live_server.url + reverse("admin:dbopt_monitor_queries")

    _login(browser, live_server.url, "plain@example.com")
    assert "correct email" in browser.page_source  # the admin login refuses non-staff
    browser.get(queries)
    assert "id_password" in browser.page_source  # sent back to the login form
    _screenshot(browser, shots, "refused-non-staff")

    browser.delete_all_cookies()
    _login(browser, live_server.url, "staff@example.com")
    browser.get(queries)
    assert "403 Forbidden" in browser.page_source
    assert "SELECT" not in browser.page_source
    _screenshot(browser, shots, "refused-staff-without-permission")
    browser.get(live_server.url + reverse("admin:index"))
    assert "Query monitor" not in browser.page_source
