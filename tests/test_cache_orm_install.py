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

from django_dbopt.cache import patches
from example_project.demo.models import User

ORIGINALS = (
    compiler.SQLCompiler.__dict__["execute_sql"],
    QuerySet.__dict__["get"],
    QuerySet.__dict__["_fetch_all"],
)


def hooked() -> tuple[bool, bool, bool]:
    return (
        patches.is_patched(compiler.SQLCompiler, "execute_sql"),
        patches.is_patched(QuerySet, "get"),
        patches.is_patched(QuerySet, "_fetch_all"),
    )


def test_not_installed_without_orm_models() -> None:
    assert hooked() == (False, False, False)


def test_override_settings_installs_and_removes_them() -> None:
    with override_settings(DBOPT={"CACHE": {"ORM_MODELS": ["demo"]}}):
        assert hooked() == (True, True, True)
        wrapped = (
            compiler.SQLCompiler.execute_sql.__wrapped__,  # type: ignore[attr-defined]
            QuerySet.get.__wrapped__,  # type: ignore[attr-defined]
            QuerySet._fetch_all.__wrapped__,  # type: ignore[attr-defined]
        )
        assert wrapped == ORIGINALS
    assert hooked() == (False, False, False)
    assert (
        compiler.SQLCompiler.__dict__["execute_sql"],
        QuerySet.__dict__["get"],
        QuerySet.__dict__["_fetch_all"],
    ) == ORIGINALS


def test_install_and_uninstall_are_idempotent() -> None:
    patches.install()
    try:
        first = compiler.SQLCompiler.__dict__["execute_sql"]
        patches.install()
        assert compiler.SQLCompiler.__dict__["execute_sql"] is first  # not wrapped twice
    finally:
        patches.uninstall()
    patches.uninstall()
    assert compiler.SQLCompiler.__dict__["execute_sql"] is ORIGINALS[0]


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
