"""Read-your-writes through Celery: a real worker (subprocess) on the suite's Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from django_dbopt.routing import routing_scope
from example_project.demo.models import User
from tests.routing_fixtures import routed
from tests.services import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def worker(
    services: Services, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    from tests import routing_celery_app

    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.routing_worker_settings",
        "DBOPT_TEST_DB_NAME": connections["default"].settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
    }
    routing_celery_app.app.control.purge()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.routing_celery_app",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                "dbopt-routing-tests",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        state = routing_celery_app.replica_state.delay().get(timeout=60)
        assert state == "healthy", log.read_text()
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_a_task_published_after_a_write_reads_that_write(services: Services, worker: None) -> None:
    from tests.routing_celery_app import read_user

    services.wait_for_replica()
    with routed(), services.replay_paused():
        with routing_scope() as writer:
            User.objects.create_user(email="celery-ryw@example.com", password="x")
            from_writer = read_user.delay("celery-ryw@example.com")
        from_elsewhere = read_user.delay("celery-ryw@example.com")
        assert from_writer.get(timeout=30) == {"alias": "default", "found": True}
        assert from_elsewhere.get(timeout=30) == {"alias": "replica", "found": False}
        assert writer.recorded  # the position the header carried
    services.wait_for_replica()
    with routed(), routing_scope(writer):
        caught_up = read_user.delay("celery-ryw@example.com")
    assert caught_up.get(timeout=30) == {"alias": "replica", "found": True}
