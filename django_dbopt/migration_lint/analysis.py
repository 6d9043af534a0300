"""Findings for one migration operation, from the SQL Django would run for it.

``analyse()`` renders the operation's SQL (``rendering.py``), reads what each statement
does (``statements.py``) and applies the rules to every action on a table that already
exists. A few rules look at the operation itself: ``RunPython``, a ``NOT NULL`` or
per-row default on ``AddField``, and, when Django cannot render an operation without
the database, the operation's type.
"""

from __future__ import annotations

from django.db import migrations
from django.db.models import NOT_PROVIDED

from django_dbopt.migration_lint import statements
from django_dbopt.migration_lint.findings import Finding
from django_dbopt.migration_lint.rendering import RenderError, render
from django_dbopt.migration_lint.rules import RULES
from django_dbopt.migration_lint.sql_rules import finding_for
from django_dbopt.migration_lint.steps import Step


def analyse(step: Step) -> list[Finding]:
    operation = step.operation
    if isinstance(operation, migrations.SeparateDatabaseAndState):
        return _separate(step, operation)
    if isinstance(operation, migrations.RunPython):
        if operation.code is migrations.RunPython.noop:
            return []
        return [
            step.finding(
                "DBM012",
                None,
                "RunPython changes data inside the migration; the linter cannot see which "
                "rows, and in an atomic migration every lock taken before it is held until "
                "it ends.",
                [],
            )
        ]
    if not operation.reduces_to_sql:
        # like sqlmigrate: its database_forwards runs Python, which must not run here
        step.unit.notes.append(
            f"{step.migration.app_label}.{step.migration.name}, operation {step.index} "
            f"({operation.describe()}) cannot be written as SQL: not linted."
        )
        return []
    try:
        sql = render(
            step.unit.renderer,
            step.migration.app_label,
            operation,
            step.from_state,
            step.to_state,
        )
    except RenderError as e:
        step.unit.notes.append(
            f"{step.migration.app_label}.{step.migration.name}, operation {step.index}: "
            f"SQL could not be rendered without the database ({e}); checked from the "
            "operation only."
        )
        return _from_operation(step)
    actions = statements.parse(sql)
    raw = isinstance(operation, migrations.RunSQL)
    findings = [f for a in actions if (f := finding_for(step, a, raw)) is not None]
    findings.extend(_add_field(step))
    return findings


def _separate(step: Step, operation: migrations.SeparateDatabaseAndState) -> list[Finding]:
    """Each database operation, in the states ``SeparateDatabaseAndState`` gives it."""
    findings = []
    from_state = step.from_state
    for inner in operation.database_operations:
        to_state = from_state.clone()
        inner.state_forwards(step.migration.app_label, to_state)
        inner_step = Step(step.unit, step.migration, step.index, inner, from_state, to_state)
        for finding in analyse(inner_step):
            finding.operation = operation.describe()
            findings.append(finding)
        from_state = to_state
    return findings


def _add_field(step: Step) -> list[Finding]:
    operation = step.operation
    if not isinstance(operation, migrations.AddField):
        return []
    model = step.to_state.apps.get_model(step.migration.app_label, operation.model_name)
    table = model._meta.db_table
    field_ = model._meta.get_field(operation.name)
    if step.unit.is_new(table) or not getattr(field_, "concrete", False):
        return []
    if field_.many_to_many or getattr(field_, "generated", False):
        return []
    if getattr(field_, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
        return []
    column = f'"{table}"."{field_.column}"'
    findings = []
    if callable(field_.default) and field_.default is not NOT_PROVIDED:
        findings.append(
            step.finding(
                "DBM006",
                table,
                f"the default of {column} is a callable: Django calls it once and writes "
                "that one value into every existing row.",
                [],
            )
        )
    if not field_.null:
        findings.append(
            step.finding(
                "DBM005",
                table,
                f"{column} is NOT NULL without a database default: code still running "
                "during the deploy inserts rows without it and fails.",
                [],
            )
        )
    return findings


def _from_operation(step: Step) -> list[Finding]:
    """The rules that need no SQL, for an operation Django could not render."""
    operation = step.operation
    rule = None
    renames = (migrations.RenameField, migrations.RenameModel, migrations.AlterModelTable)
    if isinstance(operation, renames):
        rule = "DBM009"
    elif isinstance(operation, migrations.RemoveField | migrations.DeleteModel):
        rule = "DBM010"
    if rule is None:
        return []
    return [step.finding(rule, None, RULES[rule].title + ".", [])]
