"""Issue 11, item 15: the metrics view must not run inside ``ATOMIC_REQUESTS``: its
database probes then ran in the request's transaction (a savepoint), not read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def test_metrics_probe_is_read_only_under_atomic_requests(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("prometheus_client")
    default = connections["default"]
    monkeypatch.setitem(default.settings_dict, "ATOMIC_REQUESTS", True)
    seen: list[tuple[str, bool]] = []

    def spy(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        seen.append((sql, default.in_atomic_block))
        return execute(sql, params, many, ctx)

    with default.execute_wrapper(spy):
        response = client.get("/dbopt/metrics/")
    assert response.status_code == 200
    statements = [sql for sql, _ in seen]
    assert any("pg_is_in_recovery" in sql for sql in statements)
    assert "SET TRANSACTION READ ONLY" in statements
