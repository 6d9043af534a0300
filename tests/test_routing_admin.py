"""The replica status admin page: staff only, shows states and counters."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from django_dbopt.routing.health import monitor
from example_project.demo.models import User
from tests.routing_fixtures import routed
from tests.services import Services

URL = "/admin/django_dbopt/replicastatuspage/"


@pytest.mark.django_db
def test_only_staff_may_look(client: Client) -> None:
    assert client.get(URL).status_code == 302  # to the login page
    User.objects.create_user(email="plain@example.com", password="pw")
    client.login(email="plain@example.com", password="pw")
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_without_replicas_it_says_so(admin_client: Client) -> None:
    response = admin_client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "No replicas configured" in text
    assert "No data: this process has made no read routing decision yet." in text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_shows_replica_state_and_counters(admin_client: Client, services: Services) -> None:
    services.wait_for_replica()
    with routed():
        monitor.ensure_started()
        monitor.probe_round()
        assert User.objects.filter(email="nobody@example.com").db == "replica"
        response = admin_client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "<td>replica</td><td>default</td><td>healthy</td><td>yes</td>" in text
    assert re.search(r"<td>replica</td><td>[1-9]\d*</td>", text)  # the reason row
    assert "primary-after-write" in text
