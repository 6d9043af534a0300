"""The demo's embedded default (SQLite, no ``REDIS_URL``) uses the two-tier cache in
L1-only mode, and its cache page shows real L1 hits (issue 10). Runs the example
project's own settings in a child interpreter: a fresh SQLite file, no Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, re, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
from example_project.demo.models import User
client = Client()
for _ in range(3):
    assert client.get("/dashboard/").status_code == 200
staff = User.objects.create_user(email="staff@example.com", password="x", is_staff=True,
                                 is_superuser=True)
client.force_login(staff)
page = client.get("/admin/django_dbopt/cachestats/")
from django_dbopt.cache import stats
data = stats()
print(json.dumps({
    "backend": settings.CACHES["default"]["BACKEND"],
    "l2": settings.CACHES["default"]["OPTIONS"]["L2"],
    "status": page.status_code,
    "page": page.content.decode(),
    "mode": data["mode"],
    "l1_hits": data["process"]["tiers"].get("l1", {}).get("hits", 0),
}))
"""


def test_demo_cache_page_shows_l1_hits_without_redis(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "REPLICA_URLS") and not k.startswith("DBOPT_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "django_dbopt.cache.TwoTierCache"
    assert result["l2"] is None
    assert result["mode"] == "l1_only"
    assert result["l1_hits"] > 0
    assert result["status"] == 200
    assert "L1-only mode" in result["page"]
    assert "Limits of this mode" in result["page"]
