"""Attack: ``@cached`` keyed its arguments by ``repr``, so two model instances whose
``__str__`` matched shared an entry and one user's data was served to another (issue 11,
item 7). Instances are now keyed by model label and primary key; arguments whose repr
is not a stable identity are refused with ``TypeError``."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from django_dbopt.cache import cached
from django_dbopt.cache.decorators import identity
from example_project.demo.models import Project, User
from tests.cache_fixtures import caches_setting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cache_on(services: Any) -> Iterator[None]:
    with override_settings(CACHES=caches_setting("deckeys")):
        backend = caches["default"]
        assert backend.state.wait_l1()
        backend.clear()
        yield
        backend.clear()


@cached(60, tags=["projects"])
def projects_of(owner: User) -> list[str]:
    return sorted(Project.objects.filter(owner=owner).values_list("name", flat=True))


@cached(60)
def echo(value: Any) -> str:
    return f"computed for {value!r}"


def test_instances_with_the_same_str_do_not_share_an_entry(cache_on: None) -> None:
    alice = User.objects.create_user(email="alice@example.com", password="x")
    mallory = User.objects.create_user(email="mallory@example.com", password="x")
    Project.objects.create(name="alice's payroll", owner=alice)
    Project.objects.create(name="mallory's notes", owner=mallory)
    mallory.email = "alice@example.com"  # same __str__ and repr as alice (not saved)
    assert str(mallory) == str(alice)
    assert repr(mallory) == repr(alice)
    assert projects_of(alice) == ["alice's payroll"]
    assert projects_of(mallory) == ["mallory's notes"]
    assert projects_of(alice) == ["alice's payroll"]


class _NoRepr:
    pass


def test_arguments_without_a_stable_identity_are_refused(cache_on: None) -> None:
    with pytest.raises(TypeError, match="memory address"):
        echo(_NoRepr())
    with pytest.raises(TypeError, match="memory address"):
        echo([1, object()])
    with pytest.raises(TypeError, match="unsaved"):
        echo(User(email="new@example.com"))
    with pytest.raises(TypeError, match="QuerySet"):
        echo(Project.objects.all())


def test_a_function_with_no_tags_or_tables_is_cached(cache_on: None) -> None:
    assert echo(7) == "computed for 7"  # raised ValueError (zip) before
    assert echo(7) == "computed for 7"
    assert caches["default"].state.stats.snapshot()["l1.hits"] >= 1


def test_plain_arguments_key_by_value() -> None:
    when = datetime.date(2026, 1, 2)
    assert identity(when) == when
    assert identity({"b": 1, "a": [1, 2]}) == identity({"a": [1, 2], "b": 1})
    assert identity(1) != identity("1") != identity(True)
    assert identity((1,)) != identity([1])
