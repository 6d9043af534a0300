"""django-dbopt in a user's project: the built wheel, a fresh venv, ``startproject``.

No dev tools and no typing-only package (django-stubs-ext) in that venv, Django 5.2, the
site set up by following docs/installation.md literally (tests/plain_site.py), against the
suite's PostgreSQL primary, standby and Redis. Then: ``check`` prints nothing but "no
issues", ``migrate``, every ``dbopt_*`` command (JSON where it has it), and a runserver
answering the health and metrics URLs and every django-dbopt admin page for a staff user.

Run with no extras and with all of them; each extra alone is marked ``each_extra`` (opt in
with ``--each-extra``): each run builds a venv, which takes a while on a busy machine.
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.plain_site import (
    ROOT,
    TYPING_ONLY,
    Server,
    Site,
    build_wheel,
    doc_snippets,
    make_venv,
)
from tests.services import Services

pytestmark = pytest.mark.postgres

#: extras a user installs (dev, example and bench are the project's own)
_PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = tuple(sorted(set(_PROJECT["optional-dependencies"]) - {"dev", "example", "bench"}))
#: arguments each command runs with in the site; a new command must be added here
COMMANDS: dict[str, list[str]] = {
    "dbopt_alerts": ["--evaluate"],
    "dbopt_backup": ["--format", "json"],
    "dbopt_backups": ["list", "--format", "json"],
    "dbopt_benchmark": [
        *("--workloads", "crud", "--duration", "0.3", "--warmup", "0", "--trials", "1"),
        *("--no-ab", "--no-store", "--format", "json"),
    ],
    "dbopt_cache": ["stats", "--format", "json"],
    "dbopt_lint_migrations": ["--format", "json"],
    "dbopt_migrate": ["--format", "json"],
    "dbopt_pool": ["--format", "json"],
    "dbopt_replicas": ["--format", "json"],
    "dbopt_report": ["--format", "json"],
    "dbopt_restore": ["--latest", "--format", "json"],
}
#: commands that need an extra to do anything (without it they must fail cleanly)
NEEDS = {"dbopt_cache": "redis", "dbopt_backups": "crypto"}
#: commands that report progress on stderr while they work
PROGRESS_ON_STDERR = {"dbopt_benchmark"}
#: commands that need settings the installation guide does not give (backups: a key and a
#: place, docs/backups.md): they must fail cleanly, with a CommandError
UNCONFIGURED = {"dbopt_backup", "dbopt_restore"}
#: what an extra brings (import names): a module may fail to import only for these
EXTRA_MODULES = {
    "redis": {"redis", "django_redis", "zstandard"},
    "celery": {"celery", "kombu"},
    "s3": {"boto3", "botocore"},
    "compression": {"zstandard"},
    "crypto": {"cryptography"},
    "prometheus": {"prometheus_client"},
}
assert set(EXTRA_MODULES) == set(EXTRAS), "say what the new extra brings"
PASSWORD = "plain-project-Pa55"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def database(services: Services) -> Iterator[str]:
    """An empty database on the primary, replicated to the standby, dropped after."""
    name = f"plain_{uuid.uuid4().hex[:8]}"
    with services.connect("primary") as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    services.wait_for_replica()
    yield name
    with services.connect("primary") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _where(url: str, name: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "NAME": name,
    }


def servers_block(services: Services, name: str) -> str:
    """Where this machine's servers are: connection parameters only."""
    primary, replica = _where(services.primary_url, name), _where(services.replica_url, name)
    redis = urlsplit(services.redis_url)._replace(path="/2").geturl()
    return f"""
# -- the plain-project test: this machine's servers (connection parameters only) --
for _alias, _db in DATABASES.items():
    _db.update({primary!r} if _alias == "default" else {replica!r})
for _cache in globals().get("CACHES", {{}}).values():
    if _cache["BACKEND"].startswith("django_redis."):
        _cache["LOCATION"] = {redis!r}
"""


def exercise(site: Site) -> None:
    """Everything a user does after installing, each answer checked."""
    assert site.uninstalled(("django_stubs_ext", "mypy")) == [], TYPING_ONLY
    # every module imports, but for the extras not installed (and the pytest plugin)
    missing = {"pytest"}.union(
        *(names for extra, names in EXTRA_MODULES.items() if extra not in site.extras)
    )
    missing -= set().union(*(EXTRA_MODULES.get(e, set()) for e in site.extras))
    failures = site.import_failures()
    assert {
        m: e for m, e in failures.items() if e.split(": ")[-1].split(".")[0] not in missing
    } == {}
    assert site.manage("check").strip() == "System check identified no issues (0 silenced)."
    assert (
        site.manage("check", "--database", "default").strip()
        == "System check identified no issues (0 silenced)."
    )
    site.manage("migrate", "--no-input")
    site.manage(
        "createsuperuser", "--no-input", "--username", "admin", "--email", "admin@example.com"
    )
    commands = site.commands()
    assert set(commands) == set(COMMANDS), "add the new command to COMMANDS"
    for command in commands:
        if command in UNCONFIGURED or NEEDS.get(command, "") not in site.extras | {""}:
            with pytest.raises(AssertionError, match="CommandError"):
                site.manage(command, *COMMANDS[command])
            continue
        out = site.manage(command, *COMMANDS[command], allow_stderr=command in PROGRESS_ON_STDERR)
        if "json" in COMMANDS[command]:
            json.loads(out)
    server = Server(site)
    try:
        assert server.get("/dbopt/health/live/")[0] == 200
        status, body = server.get("/dbopt/health/ready/")
        assert status == 200, body
        status, body = server.get("/dbopt/metrics/")
        assert status == (200 if "prometheus" in site.extras else 501), body
        if "prometheus" in site.extras:
            assert "dbopt_database_up" in body
        server.login("admin", PASSWORD)
        pages = site.admin_urls()
        assert len(pages) >= 4, pages
        visited = dict(server.crawl(pages, "/admin/django_dbopt/"))
        assert set(pages) <= set(visited)
        # read-only admins (alerts, benchmark runs) refuse their add page: 403, never 500
        refused = {url: s for url, s in visited.items() if url.endswith("/add/")}
        assert set(refused.values()) <= {200, 403}, refused
        assert {url: s for url, s in visited.items() if s != 200 and url not in refused} == {}
    finally:
        server.stop()


def plain_site(tmp_path: Path, wheel: Path, extras: tuple[str, ...], servers: str) -> Site:
    python = make_venv(tmp_path / "venv", wheel, extras)
    site = Site(python, tmp_path / "site", frozenset(extras))
    site.env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    site.folder.mkdir()
    site.create(servers)
    return site


def test_plain_project_without_extras(
    tmp_path: Path, wheel: Path, services: Services, database: str
) -> None:
    exercise(plain_site(tmp_path, wheel, (), servers_block(services, database)))


def test_plain_project_with_every_extra(
    tmp_path: Path, wheel: Path, services: Services, database: str
) -> None:
    exercise(plain_site(tmp_path, wheel, EXTRAS, servers_block(services, database)))


def documented_extras() -> tuple[str, ...]:
    """The extras of the doc's install command (``pip install "django-dbopt[a,b]"``)."""
    (install,) = [s.text for s in doc_snippets() if s.target == "install"]
    found = re.search(r'pip install "django-dbopt\[([\w,]+)\]"', install)
    assert found, install
    extras = tuple(found.group(1).split(","))
    assert set(extras) <= set(EXTRAS), extras
    return extras


def test_plain_project_with_the_documented_extras(
    tmp_path: Path, wheel: Path, services: Services, database: str
) -> None:
    """What the install section tells a user to install: no warning either."""
    extras = documented_extras()
    exercise(plain_site(tmp_path, wheel, extras, servers_block(services, database)))


@pytest.mark.each_extra
@pytest.mark.parametrize("extra", EXTRAS)
def test_plain_project_with_one_extra(
    tmp_path: Path, wheel: Path, services: Services, database: str, extra: str
) -> None:
    exercise(plain_site(tmp_path, wheel, (extra,), servers_block(services, database)))
