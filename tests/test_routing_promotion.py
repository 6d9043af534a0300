"""A standby promoted to primary is noticed and leaves rotation (a real promotion).

The suite's own standby must stay a standby, so this test makes a second one from the
primary with ``pg_basebackup``, promotes it and throws it away.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connections

from django_dbopt.routing import status
from django_dbopt.routing.health import monitor
from tests.routing_fixtures import replica_state, routed
from tests.services import PgServer, Services, _as_user, _run, free_port, pg_bindir
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@pytest.fixture
def second_standby(controllable_services: Services) -> Iterator[PgServer]:
    services = controllable_services
    assert services.folder is not None
    assert services.primary is not None
    user, bindir = _as_user(), pg_bindir()
    server = PgServer(
        services.folder / "standby2", free_port(), services.folder / "standby2.log", user, bindir
    )
    _run(
        [
            str(bindir / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(services.primary.port), "-U", "postgres"),
            *("-D", str(server.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        ],
        user,
    )
    with (server.data / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {server.port}\n")
    server.start()
    settings.DATABASES["standby2"] = {
        **settings.DATABASES["replica"],
        "PORT": str(server.port),
        "NAME": connections["default"].settings_dict["NAME"],
    }
    try:
        yield server
    finally:
        del settings.DATABASES["standby2"]
        server.stop("immediate")
        shutil.rmtree(server.data, ignore_errors=True)


def test_a_promoted_standby_leaves_rotation(second_standby: PgServer, services: Services) -> None:
    seen: list[tuple[str, str]] = []
    from django_dbopt.signals import replica_state_changed

    def receiver(**kwargs: object) -> None:
        seen.append((str(kwargs["replica"]), str(kwargs["new_state"])))

    replica_state_changed.connect(receiver, dispatch_uid="test-promotion")
    try:
        with routed(replicas={"default": {"replica": 1, "standby2": 1}}):
            monitor.ensure_started()
            wait_until(
                lambda: (monitor.probe_round(), replica_state("standby2"))[1] == "healthy",
                15,
                what="the second standby in rotation",
            )
            second_standby.pg_ctl("promote", "-w")
            wait_until(
                lambda: (monitor.probe_round(), replica_state("standby2"))[1] == "promoted",
                15,
                what="the promotion to be noticed",
            )
            promoted = next(r for r in status().replicas if r.alias == "standby2")
            assert promoted.in_recovery is False
            assert not promoted.in_rotation
            assert [c.alias for c in monitor.tables["default"].fit] == ["replica"]
    finally:
        replica_state_changed.disconnect(dispatch_uid="test-promotion")
    assert ("standby2", "promoted") in seen
