"""Index advice pastes only catalog-checked, properly quoted identifiers into DDL
(issue 11, item 10)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import override_settings

from django_dbopt.monitor.advice import advise_query
from django_dbopt.monitor.migration import migration_for
from tests.monitor_fixtures import fresh_monitor, monitor_config  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PAYLOAD = "SELECT lo_unlink(oid) FROM pg_largeobject_metadata"
#: a quoted identifier in an observed query: sqlglot reads it as the column name
#: ``name"); SELECT lo_unlink(oid) FROM pg_largeobject_metadata; --``
INJECTED = f'SELECT * FROM "victim" WHERE "victim"."name""); {PAYLOAD}; --" = ?'


@pytest.fixture
def victim(fresh_monitor: None) -> Iterator[None]:  # noqa: F811
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE victim (id int PRIMARY KEY, name text, "we""ird" text)')
        cursor.execute("INSERT INTO victim SELECT g, 'n', 'w' FROM generate_series(1, 50) g")
        cursor.execute("DROP EXTENSION IF EXISTS hypopg")
        cursor.execute("ANALYZE victim")
    with override_settings(DBOPT=monitor_config(large_table_rows=1)):
        yield


@pytest.mark.usefixtures("victim")
def test_a_crafted_column_name_gives_no_ddl() -> None:
    found = advise_query("f" * 16, INJECTED, "default", 10, 100.0)
    for advice in found:
        assert "lo_unlink" not in advice.ddl
        assert "lo_unlink" not in advice.migration
    assert found == []


@pytest.mark.usefixtures("victim")
def test_a_real_odd_column_name_is_quoted_and_the_ddl_runs() -> None:
    (advice,) = advise_query(
        "f" * 16, 'SELECT * FROM "victim" WHERE "we""ird" = ?', "default", 10, 100.0
    )
    assert advice.columns == ['we"ird']
    assert advice.ddl == 'CREATE INDEX CONCURRENTLY ON "victim" ("we""ird")'
    with connection.cursor() as cursor:  # it is one statement that builds that index
        cursor.execute(advice.ddl.replace(" CONCURRENTLY", ""))
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'victim'::regclass AND NOT indisprimary"
        )
        (definition,) = [r[0] for r in cursor.fetchall()]
        assert definition.endswith('ON public.victim USING btree ("we""ird")')


def test_plain_sql_migration_quotes_identifiers() -> None:
    text = migration_for("victim", [f'name"); {PAYLOAD}; --'])
    quoted = rf'\("name""\); {re.escape(PAYLOAD)}; --"\)'
    assert re.fullmatch(rf'CREATE INDEX CONCURRENTLY "\w+" ON "victim" {quoted};\n', text), text
