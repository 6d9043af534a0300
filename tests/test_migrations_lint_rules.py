"""Every lint rule fires on its unsafe operation and stays quiet on its safe alternative.

Operations are linted in memory, as migration 0002 of an app whose tables exist, with
the SQL rendered by Django's PostgreSQL schema editor: no database is touched, so these
run in the SQLite run too.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.state import ModelState, ProjectState

from django_dbopt.migration_lint import RULES, Finding, Severity
from django_dbopt.migration_lint.lint import lint_migration
from django_dbopt.migration_lint.rendering import offline_connection
from django_dbopt.migration_lint.statements import parse
from django_dbopt.migration_lint.steps import Unit

APP = "shop"


def base_state() -> ProjectState:
    state = ProjectState()
    state.add_model(
        ModelState(
            APP,
            "Customer",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("email", models.CharField(max_length=50, null=True)),
            ],
        )
    )
    state.add_model(
        ModelState(
            APP,
            "Order",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("note", models.CharField(max_length=50, null=True)),
                ("qty", models.IntegerField(default=0)),
                ("customer_id", models.BigIntegerField(null=True)),
            ],
        )
    )
    return state


def lint_ops(
    *operations: object, atomic: bool = True, ignore: list[str] | None = None
) -> list[Finding]:
    migration = migrations.Migration("0002_change", APP)
    migration.operations = list(operations)
    migration.atomic = atomic
    return lint_migration(migration, base_state(), Unit(offline_connection("default")))


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule.id for f in findings]


def run_sql(*statements: str) -> migrations.RunSQL:
    return migrations.RunSQL(list(statements), reverse_sql=migrations.RunSQL.noop)


# -- DBM001: index without CONCURRENTLY ------------------------------------------------
def test_dbm001_add_index_fires() -> None:
    findings = lint_ops(migrations.AddIndex("order", models.Index(fields=["note"], name="o_note")))
    assert rules(findings) == ["DBM001"]
    finding = findings[0]
    assert finding.table == "shop_order"
    assert finding.severity is Severity.WARNING
    assert "shop.0002_change, operation 1 (Create index o_note" in finding.message
    assert "AddIndexConcurrently" in finding.rule.safe_alternative
    assert finding.sql == ['CREATE INDEX "o_note" ON "shop_order" ("note")']


def test_dbm001_db_index_on_alter_field_fires() -> None:
    findings = lint_ops(
        migrations.AlterField("order", "qty", models.IntegerField(default=0, db_index=True))
    )
    assert rules(findings) == ["DBM001"]


def test_dbm001_safe_alternatives_are_quiet() -> None:
    assert (
        lint_ops(
            AddIndexConcurrently("order", models.Index(fields=["note"], name="o_note")),
            atomic=False,
        )
        == []
    )
    field = models.IntegerField(default=0, db_index=True)
    separate = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField("order", "qty", field)],
        database_operations=[
            run_sql('CREATE INDEX CONCURRENTLY "o_qty" ON "shop_order" ("qty")'),
        ],
    )
    assert lint_ops(separate, atomic=False) == []


# -- DBM002: foreign key validated while added -----------------------------------------
def test_dbm002_foreign_key_fires() -> None:
    add_fk = migrations.AddField(
        "order", "buyer", models.ForeignKey(f"{APP}.Customer", models.CASCADE, null=True)
    )
    assert "DBM002" in rules(lint_ops(add_fk))
    sql = run_sql(
        'ALTER TABLE "shop_order" ADD CONSTRAINT "o_fk" FOREIGN KEY ("customer_id") '
        'REFERENCES "shop_customer" ("id")'
    )
    assert rules(lint_ops(sql)) == ["DBM002"]


def test_dbm002_not_valid_then_validate_is_quiet() -> None:
    add_field = migrations.AddField(
        "order",
        "buyer",
        models.ForeignKey(f"{APP}.Customer", models.CASCADE, null=True, db_constraint=False),
    )
    assert "DBM002" not in rules(lint_ops(add_field))
    not_valid = run_sql(
        'ALTER TABLE "shop_order" ADD CONSTRAINT "o_fk" FOREIGN KEY ("customer_id") '
        'REFERENCES "shop_customer" ("id") NOT VALID'
    )
    validate = run_sql('ALTER TABLE "shop_order" VALIDATE CONSTRAINT "o_fk"')
    assert lint_ops(not_valid) == []
    assert lint_ops(validate) == []


# -- DBM003: CHECK validated while added -----------------------------------------------
def test_dbm003_check_constraint_fires_and_not_valid_is_quiet() -> None:
    check = models.CheckConstraint(condition=models.Q(qty__gte=0), name="qty_positive")
    assert rules(lint_ops(migrations.AddConstraint("order", check))) == ["DBM003"]
    separate = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AddConstraint("order", check)],
        database_operations=[
            run_sql(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "qty_positive" CHECK ("qty" >= 0) '
                "NOT VALID"
            )
        ],
    )
    assert lint_ops(separate) == []


# -- DBM004: SET NOT NULL on an existing column ----------------------------------------
def test_dbm004_not_null_fires() -> None:
    alter = migrations.AlterField("order", "note", models.CharField(max_length=50))
    assert rules(lint_ops(alter)) == ["DBM004"]


def test_dbm004_with_a_default_also_updates_rows() -> None:
    alter = migrations.AlterField("order", "note", models.CharField(max_length=50, default="-"))
    assert sorted(rules(lint_ops(alter))) == ["DBM004", "DBM012"]


def test_dbm004_after_validated_check_is_quiet() -> None:
    tighten = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField("order", "note", models.CharField(max_length=50))],
        database_operations=[
            run_sql(
                'ALTER TABLE "shop_order" VALIDATE CONSTRAINT "note_not_null"',
                'ALTER TABLE "shop_order" ALTER COLUMN "note" SET NOT NULL',
                'ALTER TABLE "shop_order" DROP CONSTRAINT "note_not_null"',
            )
        ],
    )
    assert lint_ops(tighten) == []
    first_step = run_sql(
        'ALTER TABLE "shop_order" ADD CONSTRAINT "note_not_null" CHECK ("note" IS NOT NULL) '
        "NOT VALID"
    )
    assert lint_ops(first_step) == []


# -- DBM005: NOT NULL column without a database default --------------------------------
def test_dbm005_not_null_add_field_fires() -> None:
    add = migrations.AddField("order", "status", models.CharField(max_length=5, default="new"))
    assert rules(lint_ops(add)) == ["DBM005"]


def test_dbm005_db_default_or_nullable_is_quiet() -> None:
    with_db_default = models.CharField(max_length=5, db_default="new")
    assert lint_ops(migrations.AddField("order", "status", with_db_default)) == []
    nullable = models.CharField(max_length=5, null=True)
    assert lint_ops(migrations.AddField("order", "status", nullable)) == []


# -- DBM006: volatile / per-row default ------------------------------------------------
def test_dbm006_volatile_db_default_fires() -> None:
    field = models.UUIDField(db_default=models.Func(function="gen_random_uuid"))
    findings = lint_ops(migrations.AddField("order", "token", field))
    assert rules(findings) == ["DBM006"]
    assert "rewritten" in findings[0].message


def test_dbm006_callable_default_fires() -> None:
    field = models.UUIDField(default=uuid.uuid4, null=True)
    findings = lint_ops(migrations.AddField("order", "token", field))
    assert rules(findings) == ["DBM006"]
    assert "every existing row" in findings[0].message


def test_dbm006_stable_default_and_nullable_are_quiet() -> None:
    now = models.DateTimeField(db_default=models.functions.Now())
    assert lint_ops(migrations.AddField("order", "created", now)) == []
    assert lint_ops(migrations.AddField("order", "token", models.UUIDField(null=True))) == []


# -- DBM007: type change rewrites ------------------------------------------------------
def test_dbm007_int_to_bigint_fires() -> None:
    findings = lint_ops(migrations.AlterField("order", "qty", models.BigIntegerField(default=0)))
    assert rules(findings) == ["DBM007"]
    assert "from integer to bigint" in findings[0].message


@pytest.mark.parametrize(
    "field",
    [models.CharField(max_length=200, null=True), models.TextField(null=True)],
    ids=["wider-varchar", "text"],
)
def test_dbm007_widening_is_quiet(field: models.Field[object, object]) -> None:
    assert lint_ops(migrations.AlterField("order", "note", field)) == []


def test_dbm007_narrowing_fires() -> None:
    narrower = models.CharField(max_length=10, null=True)
    assert rules(lint_ops(migrations.AlterField("order", "note", narrower))) == ["DBM007"]


# -- DBM008: unique without CONCURRENTLY -----------------------------------------------
def test_dbm008_unique_constraint_and_unique_field_fire() -> None:
    unique = models.UniqueConstraint(fields=["note"], name="uniq_note")
    assert rules(lint_ops(migrations.AddConstraint("order", unique))) == ["DBM008"]
    partial = models.UniqueConstraint(fields=["note"], name="u2", condition=models.Q(qty=1))
    assert rules(lint_ops(migrations.AddConstraint("order", partial))) == ["DBM008"]
    field = models.CharField(max_length=50, null=True, unique=True)
    assert "DBM008" in rules(lint_ops(migrations.AlterField("order", "note", field)))


def test_dbm008_concurrent_unique_index_then_constraint_is_quiet() -> None:
    unique = models.UniqueConstraint(fields=["note"], name="uniq_note")
    separate = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AddConstraint("order", unique)],
        database_operations=[
            run_sql('CREATE UNIQUE INDEX CONCURRENTLY "uniq_note" ON "shop_order" ("note")'),
            run_sql(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "uniq_note" UNIQUE USING INDEX '
                '"uniq_note"'
            ),
        ],
    )
    assert lint_ops(separate, atomic=False) == []


# -- DBM009: renames -------------------------------------------------------------------
def test_dbm009_renames_fire() -> None:
    assert rules(lint_ops(migrations.RenameField("order", "note", "comment"))) == ["DBM009"]
    assert rules(lint_ops(migrations.RenameModel("Order", "Purchase"))) == ["DBM009"]
    assert rules(lint_ops(migrations.AlterModelTable("order", "orders"))) == ["DBM009"]
    finding = lint_ops(migrations.RenameField("order", "note", "comment"))[0]
    assert finding.severity is Severity.ERROR


def test_dbm009_state_only_rename_is_quiet() -> None:
    separate = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RenameField("order", "note", "comment")]
    )
    assert lint_ops(separate) == []
    keep_column = migrations.AlterField(
        "order", "note", models.CharField(max_length=50, null=True, db_column="note")
    )
    assert lint_ops(keep_column) == []


# -- DBM010: drops ---------------------------------------------------------------------
def test_dbm010_drops_fire() -> None:
    assert rules(lint_ops(migrations.RemoveField("order", "note"))) == ["DBM010"]
    assert rules(lint_ops(migrations.DeleteModel("Order"))) == ["DBM010"]


def test_dbm010_state_only_removal_is_quiet() -> None:
    separate = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("order", "note")]
    )
    assert lint_ops(separate) == []


# -- DBM011: RunSQL not analysable -----------------------------------------------------
def test_dbm011_unknown_sql_fires() -> None:
    findings = lint_ops(run_sql("DO $$ BEGIN PERFORM 1; END $$"))
    assert rules(findings) == ["DBM011"]
    assert "DO $$" in findings[0].message


def test_dbm011_understood_sql_is_quiet() -> None:
    assert (
        lint_ops(run_sql("SET lock_timeout = '2s'", "COMMENT ON TABLE \"shop_order\" IS 'x'"))
        == []
    )


# -- DBM012: data changes ---------------------------------------------------------------
def test_dbm012_run_python_and_update_fire_as_info() -> None:
    findings = lint_ops(migrations.RunPython(lambda apps, schema_editor: None))
    assert rules(findings) == ["DBM012"]
    assert findings[0].severity is Severity.INFO
    assert rules(lint_ops(run_sql('UPDATE "shop_order" SET "qty" = 1'))) == ["DBM012"]


def test_dbm012_noop_is_quiet() -> None:
    assert lint_ops(migrations.RunPython(migrations.RunPython.noop)) == []


# -- DBM013: CONCURRENTLY in an atomic migration ---------------------------------------
def test_dbm013_concurrently_in_atomic_migration_fires() -> None:
    concurrent = AddIndexConcurrently("order", models.Index(fields=["note"], name="o_note"))
    assert rules(lint_ops(concurrent, atomic=True)) == ["DBM013"]
    sql = run_sql('CREATE INDEX CONCURRENTLY "o_qty" ON "shop_order" ("qty")')
    assert rules(lint_ops(sql, atomic=True)) == ["DBM013"]
    assert lint_ops(sql, atomic=False) == []


# -- tables created by the linted operations -------------------------------------------
def test_operations_on_a_table_created_in_the_same_migration_are_quiet() -> None:
    create = migrations.CreateModel(
        "Invoice",
        [("id", models.BigAutoField(primary_key=True)), ("n", models.IntegerField())],
    )
    index = migrations.AddIndex("invoice", models.Index(fields=["n"], name="inv_n"))
    unique = migrations.AddConstraint("invoice", models.UniqueConstraint(fields=["n"], name="u"))
    rename = migrations.RenameModel("Invoice", "Bill")
    drop = migrations.RemoveField("bill", "n")
    assert lint_ops(create, index, unique, rename, drop) == []


def test_every_rule_is_covered_and_has_a_safe_alternative() -> None:
    assert sorted(RULES) == [f"DBM{n:03d}" for n in range(1, 18)]
    assert all(len(rule.safe_alternative) > 40 for rule in RULES.values())


def test_statement_parser_reads_alter_table_subcommands() -> None:
    actions = parse(
        ['ALTER TABLE "t" ALTER COLUMN "a" TYPE varchar(20), ALTER COLUMN "a" SET NOT NULL;']
    )
    assert [(a.kind, a.table, a.column) for a in actions] == [
        ("alter_type", "t", "a"),
        ("set_not_null", "t", "a"),
    ]


def test_callable_default_on_a_not_null_column_gets_both_rules() -> None:
    field = models.UUIDField(default=uuid.uuid4)
    assert rules(lint_ops(migrations.AddField("order", "code", field))) == ["DBM006", "DBM005"]


def test_unique_together_is_dbm008() -> None:
    together = migrations.AlterUniqueTogether("order", {("note", "qty")})
    assert rules(lint_ops(together)) == ["DBM008"]


def test_many_to_many_field_creates_its_own_table_and_is_quiet() -> None:
    m2m = models.ManyToManyField(f"{APP}.Customer")
    assert lint_ops(migrations.AddField("order", "watchers", m2m)) == []


def test_primary_key_type_change_rewrites_the_referencing_tables_too() -> None:
    """The foreign key pointing at it is dropped and re-added (validated) as well."""
    add_fk = migrations.AddField(
        "order", "buyer", models.ForeignKey(f"{APP}.Customer", models.CASCADE, null=True)
    )
    widen_pk = migrations.AlterField("customer", "id", models.AutoField(primary_key=True))
    findings = lint_ops(add_fk, widen_pk)
    assert [(f.rule.id, f.table) for f in findings if f.operation_index == 2] == [
        ("DBM007", "shop_customer"),
        ("DBM007", "shop_order"),
        ("DBM002", "shop_order"),
    ]


def test_operation_django_cannot_render_offline_is_noted() -> None:
    unit = Unit(offline_connection("default"))
    migration = migrations.Migration("0002_change", APP)
    migration.operations = [migrations.RenameIndex("order", "o_qty", old_fields=("qty",))]
    assert lint_migration(migration, base_state(), unit) == []
    assert unit.notes == [
        "shop.0002_change, operation 1: SQL could not be rendered without the database "
        "(Found wrong number (0) of indexes for shop_order(qty).); checked from the "
        "operation only."
    ]


class _PythonOnly(migrations.operations.base.Operation):
    reduces_to_sql = False

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(self, *args: object) -> None:
        raise AssertionError("the linter must not run an operation's Python")

    def describe(self) -> str:
        return "Python-only operation"


def test_operation_that_cannot_be_written_as_sql_is_not_run_but_noted() -> None:
    unit = Unit(offline_connection("default"))
    migration = migrations.Migration("0002_change", APP)
    migration.operations = [_PythonOnly()]
    assert lint_migration(migration, base_state(), unit) == []
    assert unit.notes == [
        "shop.0002_change, operation 1 (Python-only operation) cannot be written as SQL: "
        "not linted."
    ]


def test_add_field_with_db_index_is_dbm001() -> None:
    field = models.IntegerField(null=True, db_index=True)
    assert rules(lint_ops(migrations.AddField("order", "rank", field))) == ["DBM001"]
