"""The cache admin page is staff-only and shows measured numbers (or says why not)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import reverse

from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting, orm_settings

URL = "admin:django_dbopt_cachestats_changelist"


@pytest.fixture
def staff_client(db: None) -> Client:
    user = User.objects.create_user(email="staff@example.com", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_anonymous_and_non_staff_are_sent_to_login() -> None:
    client = Client()
    assert client.get(reverse(URL)).status_code == 302
    user = User.objects.create_user(email="plain@example.com", password="x")
    client.force_login(user)
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_without_a_two_tier_cache_the_page_says_so(staff_client: Client) -> None:
    response = staff_client.get(reverse(URL))
    assert response.status_code == 200
    assert b"is not a django_dbopt.cache.TwoTierCache" in response.content


@pytest.fixture
def with_cache(services: Any) -> Iterator[None]:
    with override_settings(CACHES=caches_setting(), DBOPT=orm_settings()):
        assert caches["default"].state.wait_l1(30)
        caches["default"].clear()
        yield


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_staff_see_tiers_and_tables(with_cache: None) -> None:
    user = User.objects.create_user(email="staff2@example.com", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    project = Project.objects.create(name="a", owner=user)
    Project.objects.get(pk=project.pk)
    Project.objects.get(pk=project.pk)
    client = Client()
    client.force_login(user)
    response = client.get(reverse(URL))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Per tier" in html
    assert "<td>projects</td>" in html
    assert "Redis: <strong>up</strong>" in html
