"""Shared by the migration linter's command tests: the test app installed, the command run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

TEST_APP = "tests.migrations_app"


@pytest.fixture
def migrations_app() -> Iterator[None]:
    """``tests.migrations_app`` in INSTALLED_APPS (its migrations unapplied)."""
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, TEST_APP]):
        yield


def run(*args: str) -> tuple[str, int]:
    """The command's stdout and exit status (0, or the CommandError's returncode)."""
    out = StringIO()
    try:
        call_command("dbopt_lint_migrations", *args, stdout=out)
    except CommandError as e:
        return out.getvalue() + f"\nCommandError: {e}", e.returncode
    return out.getvalue(), 0


def run_json(*args: str) -> tuple[dict[str, Any], int]:
    out, code = run(*args, "--format", "json")
    return json.loads(out.split("\nCommandError:")[0]), code
