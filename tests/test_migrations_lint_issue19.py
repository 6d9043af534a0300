"""Operations the linter used to miss or misjudge: a stored generated column, raw SQL
adding a NOT NULL column, ``ExclusionConstraint``, ``REINDEX`` / ``CLUSTER``, and the two
indexes of a ``db_index`` text field told apart.

Linted in memory with the SQL Django's PostgreSQL schema editor renders: no database is
touched (the SQLite run has them too).
"""

from __future__ import annotations

import pytest
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import migrations, models
from django.db.models import F

from django_dbopt.migration_lint import RULES
from tests.test_migrations_lint_rules import lint_ops, rules, run_sql


# -- stored generated column ------------------------------------------------------------
def test_stored_generated_column_rewrites_the_table() -> None:
    field = models.GeneratedField(
        expression=F("qty") * 2, output_field=models.IntegerField(), db_persist=True
    )
    findings = lint_ops(migrations.AddField("order", "double", field))
    assert rules(findings) == ["DBM014"]
    (finding,) = findings
    assert finding.table == "shop_order"
    assert "GENERATED ALWAYS AS" in finding.sql[0]
    assert "rewritten" in finding.message
    assert "ACCESS EXCLUSIVE" in finding.message


def test_stored_generated_column_in_raw_sql_rewrites_the_table() -> None:
    findings = lint_ops(
        run_sql(
            'ALTER TABLE "shop_order" ADD COLUMN "double" integer '
            'GENERATED ALWAYS AS ("qty" * 2) STORED'
        )
    )
    assert rules(findings) == ["DBM014"]


def test_generated_column_on_a_new_table_is_quiet() -> None:
    field = models.GeneratedField(
        expression=F("qty") * 2, output_field=models.IntegerField(), db_persist=True
    )
    create = migrations.CreateModel(
        "Line",
        [("id", models.BigAutoField(primary_key=True)), ("qty", models.IntegerField())],
    )
    assert lint_ops(create, migrations.AddField("line", "double", field)) == []


# -- raw SQL gets the rules of the operations that render to it -------------------------
@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer NOT NULL',
        "ALTER TABLE shop_order ADD rank integer not null",
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer CONSTRAINT r NOT NULL',
    ],
)
def test_raw_add_column_not_null_without_default_is_dbm005(sql: str) -> None:
    findings = lint_ops(run_sql(sql))
    assert rules(findings) == ["DBM005"]
    assert findings[0].table == "shop_order"


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer NOT NULL DEFAULT 0',
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer DEFAULT 0 NOT NULL',
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer NULL',
        'ALTER TABLE "shop_order" ADD COLUMN "rank" integer',
    ],
)
def test_raw_add_column_with_default_or_nullable_is_quiet(sql: str) -> None:
    assert lint_ops(run_sql(sql)) == []


def test_add_field_not_null_is_still_reported_once() -> None:
    findings = lint_ops(migrations.AddField("order", "rank", models.IntegerField(default=0)))
    assert rules(findings) == ["DBM005"]


def test_raw_add_column_not_null_with_volatile_default_is_dbm006_only() -> None:
    findings = lint_ops(
        run_sql('ALTER TABLE "shop_order" ADD COLUMN "u" uuid NOT NULL DEFAULT gen_random_uuid()')
    )
    assert rules(findings) == ["DBM006"]


# -- ExclusionConstraint: no lock-free way ---------------------------------------------
def test_exclusion_constraint_gets_an_honest_alternative() -> None:
    constraint = ExclusionConstraint(
        name="no_overlap",
        expressions=[("qty", RangeOperators.EQUAL)],
    )
    findings = lint_ops(migrations.AddConstraint("order", constraint))
    assert rules(findings) == ["DBM015"]
    alternative = findings[0].rule.safe_alternative
    assert "CREATE UNIQUE INDEX CONCURRENTLY" not in alternative
    assert "takes only UNIQUE or PRIMARY KEY" in alternative
    assert "no lock-free way" in alternative
    assert "new table" in alternative
    assert "window" in alternative
    assert "USING INDEX" in RULES["DBM008"].safe_alternative
    assert "exclusion" not in RULES["DBM008"].title


# -- REINDEX / CLUSTER -------------------------------------------------------------------
def test_reindex_names_the_concurrent_form() -> None:
    findings = lint_ops(run_sql('REINDEX INDEX "o_note"'), run_sql("REINDEX TABLE shop_order"))
    assert rules(findings) == ["DBM016", "DBM016"]
    assert findings[1].table == "shop_order"
    assert "REINDEX INDEX CONCURRENTLY" in RULES["DBM016"].safe_alternative


def test_reindex_concurrently_is_quiet_outside_a_transaction() -> None:
    assert lint_ops(run_sql("REINDEX TABLE CONCURRENTLY shop_order"), atomic=False) == []
    assert rules(lint_ops(run_sql("REINDEX TABLE CONCURRENTLY shop_order"))) == ["DBM013"]


def test_cluster_says_it_has_no_concurrent_form() -> None:
    findings = lint_ops(run_sql('CLUSTER "shop_order" USING "o_note"'))
    assert rules(findings) == ["DBM017"]
    assert findings[0].table == "shop_order"
    assert "no CONCURRENTLY form" in RULES["DBM017"].safe_alternative


# -- db_index on a text field: two indexes, two distinct findings -----------------------
def test_db_index_on_a_char_field_names_each_index() -> None:
    field = models.CharField(max_length=20, null=True, db_index=True)
    findings = lint_ops(migrations.AddField("order", "ref", field))
    assert rules(findings) == ["DBM001", "DBM001"]
    plain, like = findings
    assert plain.message != like.message
    assert "_like" not in plain.message
    assert '"shop_order_ref_' in plain.message
    assert "_like" in like.message
    assert "LIKE" in like.message


def test_raw_sql_rendering_of_add_field_without_db_default_is_dbm005() -> None:
    """What AddField renders for a NOT NULL field with a Python default: the same rule."""
    findings = lint_ops(
        run_sql(
            'ALTER TABLE "shop_order" ADD COLUMN "rank" integer DEFAULT 0 NOT NULL',
            'ALTER TABLE "shop_order" ALTER COLUMN "rank" DROP DEFAULT',
        )
    )
    assert rules(findings) == ["DBM005"]
    assert lint_ops(run_sql('ALTER TABLE "shop_order" ALTER COLUMN "qty" DROP DEFAULT')) == []
