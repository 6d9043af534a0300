"""The cache's ORM hooks are installed only while ORM caching can be active.

Without ``DBOPT['CACHE']['ORM_MODELS']`` every ORM query would otherwise pay three
pass-through wrappers (``QuerySet.get``, ``QuerySet._fetch_all``,
``SQLCompiler.execute_sql``); ``override_settings`` must still turn them on and off.
"""

from __future__ import annotations

import pytest
from django.db.models import QuerySet
from django.db.models.sql import compiler
from django.test import override_settings

from django_dbopt.cache import fastpath, listpath, orm
from example_project.demo.models import User


def hooked() -> tuple[bool, bool, bool]:
    return (
        compiler.SQLCompiler.execute_sql is orm.execute_sql,
        QuerySet.get is fastpath.get,
        QuerySet._fetch_all is listpath._fetch_all,
    )


def test_not_installed_without_orm_models() -> None:
    assert hooked() == (False, False, False)


def test_override_settings_installs_and_removes_them() -> None:
    with override_settings(DBOPT={"CACHE": {"ORM_MODELS": ["demo"]}}):
        assert hooked() == (True, True, True)
    assert hooked() == (False, False, False)


def test_broken_settings_leave_the_orm_alone() -> None:
    with override_settings(DBOPT={"CACHE": {"ORM_MODELS": "demo"}}):  # not a list
        assert hooked() == (False, False, False)


@pytest.mark.django_db
def test_queries_work_after_the_hooks_come_and_go() -> None:
    user = User.objects.create(email="hooks@example.com")
    with override_settings(DBOPT={"CACHE": {"ORM_MODELS": ["demo"]}}):
        assert User.objects.get(pk=user.pk).email == "hooks@example.com"
    assert User.objects.get(pk=user.pk).email == "hooks@example.com"
    assert [u.pk for u in User.objects.filter(pk=user.pk)] == [user.pk]
