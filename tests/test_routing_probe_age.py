"""A replica whose probes stopped answering is never trusted on stale state (issue 18)."""

from __future__ import annotations

import pytest

from django_dbopt.routing import status
from django_dbopt.routing.health import monitor
from example_project.demo.models import User
from tests.routing_fixtures import routed
from tests.services import Services
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def test_a_replica_not_probed_successfully_for_too_long_leaves_rotation(
    services: Services,
) -> None:
    """Stale state is never trusted: past MAX_PROBE_AGE_S without a good probe (here the
    probe thread is simply not due for 60 s), the next decision takes the replica out."""
    services.wait_for_replica()
    with routed(max_probe_age_s=0.5):
        monitor.probe_round()
        assert User.objects.all().db == "replica"
        wait_until(
            lambda: (status().replicas[0].good_probe_age_s or 0) > 0.5,
            10,
            what="the last good probe to be older than MAX_PROBE_AGE_S",
        )
        assert User.objects.all().db == "default"
        (replica,) = status().replicas
        assert replica.state == "down"
        assert replica.last_error is not None
        assert "no good probe" in replica.last_error
        monitor.probe_round()  # probes again: back after FAILBACK_PROBES good ones
        monitor.probe_round()
        assert User.objects.all().db == "replica"
