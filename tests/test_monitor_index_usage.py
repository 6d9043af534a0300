"""Index advice on the real primary and standby: HypoPG missing said plainly; unused
indexes judged on the primary and every replica, never those backing constraints;
duplicates that respect method, operator class, collation, predicate and expression."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse

from django_dbopt.monitor import index_usage
from example_project.demo.models import User
from tests.monitor_fixtures import fresh_monitor  # noqa: F401
from tests.services import Services

pytestmark = [pytest.mark.postgres]


def _execute(sql: str, using: str = "default") -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(sql)


def _names(found: list[dict[str, object]], table: str) -> set[str]:
    return {str(i["index"]) for i in found if i["table"] == table}


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_monitor")
@pytest.mark.parametrize("installed", [False, True])
def test_advice_page_says_whether_hypopg_is_installed(client: Client, installed: bool) -> None:
    status = index_usage.hypopg_status("default")
    if installed and not status["available"]:
        pytest.skip("the hypopg package is not installed on this server")
    # DDL is transactional: the test's transaction rolls it back
    _execute(
        "CREATE EXTENSION IF NOT EXISTS hypopg" if installed else "DROP EXTENSION IF EXISTS hypopg"
    )
    client.force_login(User.objects.create_superuser("root@example.com", "pw"))
    html = client.get(reverse("admin:dbopt_monitor_advice")).content.decode()
    if installed:
        assert "is installed" in html
    else:
        assert "HypoPG is not installed" in html
        assert "CREATE EXTENSION hypopg;" in html
        if not status["available"]:
            assert f"apt-get install {status['package']}" in html


@pytest.mark.django_db
def test_constraint_indexes_never_unused_and_plain_ones_are() -> None:
    _execute(
        "CREATE TABLE iu_plain (id int PRIMARY KEY, code text UNIQUE, note text);"
        "CREATE UNIQUE INDEX iu_plain_note_uniq ON iu_plain (lower(note));"
        "CREATE INDEX iu_plain_note ON iu_plain (note)"
    )
    found = index_usage.unused_indexes("default", replicas=[])
    assert _names(found["indexes"], "iu_plain") == {"iu_plain_note"}
    assert not [i for i in found["indexes"] if str(i["table"]).startswith("dbopt_")]
    assert found["databases"][0]["alias"] == "default"
    assert "stats_reset" in found["databases"][0]


@pytest.mark.django_db
def test_duplicates_respect_method_opclass_collation_predicate_and_expression() -> None:
    _execute(
        "CREATE TABLE iu_dup (name varchar(50), x int, y int);"
        "CREATE INDEX iu_a_name ON iu_dup (name);"
        "CREATE INDEX iu_b_name_like ON iu_dup (name varchar_pattern_ops);"
        "CREATE INDEX iu_c_name_x ON iu_dup (name, x);"
        "CREATE INDEX iu_d_x_hash ON iu_dup USING hash (x);"
        "CREATE INDEX iu_e_x ON iu_dup (x);"
        "CREATE INDEX iu_f_y_partial ON iu_dup (y) WHERE x > 0;"
        "CREATE INDEX iu_g_lower ON iu_dup (lower(name));"
        'CREATE INDEX iu_h_name_c ON iu_dup (name COLLATE "C");'
        "CREATE INDEX iu_i_y ON iu_dup (y);"
        "CREATE INDEX iu_j_y ON iu_dup (y);"
        "CREATE INDEX iu_k_x_incl ON iu_dup (x) INCLUDE (y)"
    )
    found = {
        str(d["index"]): str(d["covered_by"])
        for d in index_usage.duplicate_indexes("default")
        if d["table"] == "iu_dup"
    }
    # a plain btree prefix of another with the same opclass and collation
    assert found.pop("iu_a_name") == "iu_c_name_x"
    # exact twins: one of the two
    assert found.pop("iu_j_y") == "iu_i_y"
    # a btree on x is served by the btree on x that INCLUDEs y, never by the hash index
    assert found.pop("iu_e_x") == "iu_k_x_incl"
    assert found == {}  # pattern ops, C collation, hash, partial, expression: all kept


@pytest.fixture
def replica_table(services: Services) -> Iterator[None]:
    _execute(
        "CREATE TABLE iu_replica (id int, v int);"
        "INSERT INTO iu_replica SELECT g, g FROM generate_series(1, 2000) g;"
        "CREATE INDEX iu_replica_v ON iu_replica (v);"
        "ANALYZE iu_replica"
    )
    services.wait_for_replica()
    yield
    _execute("DROP TABLE IF EXISTS iu_replica")
    services.wait_for_replica()


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
@pytest.mark.usefixtures("replica_table")
def test_an_index_scanned_only_on_the_replica_is_not_unused() -> None:
    assert "iu_replica_v" in _names(
        index_usage.unused_indexes("default", replicas=["replica"])["indexes"], "iu_replica"
    )
    with connections["replica"].cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SELECT count(*) FROM iu_replica WHERE v = 7")
        cursor.execute("RESET enable_seqscan")
    connections["replica"].close()  # the standby reports its statistics at session end
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with_replica = index_usage.unused_indexes("default", replicas=["replica"])
        if "iu_replica_v" not in _names(with_replica["indexes"], "iu_replica"):
            break
        time.sleep(0.1)
    assert "iu_replica_v" not in _names(with_replica["indexes"], "iu_replica")
    assert [d["alias"] for d in with_replica["databases"]] == ["default", "replica"]
    assert with_replica["complete"]
    # the primary alone would have advised dropping it
    primary_only = index_usage.unused_indexes("default", replicas=[])
    assert "iu_replica_v" in _names(primary_only["indexes"], "iu_replica")
    # the configured replicas are read by default, and by the report
    routing = {"ROUTING": {"REPLICAS": {"default": {"replica": 1}}}}
    with override_settings(DBOPT=routing):
        assert "iu_replica_v" not in _names(
            index_usage.unused_indexes("default")["indexes"], "iu_replica"
        )
