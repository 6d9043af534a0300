"""The rules applied to each action of the SQL an operation runs.

``finding_for()`` gets one ``Action`` (``statements.py``) and the operation's ``Step``
and returns the finding it deserves, if any: nothing for a table the linted operations
created themselves (except DBM013, which fails whatever the table) and nothing for
statements that take no lock worth reporting.
"""

from __future__ import annotations

import re

from django.db import migrations

from django_dbopt.migration_lint import statements
from django_dbopt.migration_lint.findings import Finding
from django_dbopt.migration_lint.statements import Action
from django_dbopt.migration_lint.steps import Step


def finding_for(step: Step, action: Action, raw: bool) -> Finding | None:
    unit, table, sql = step.unit, action.table, [action.sql]
    kind = action.kind
    if kind == "create_table" and table is not None:
        unit.new_tables.add(table)
        return None
    if kind in ("create_index", "drop_index", "reindex") and action.concurrent:
        if step.migration.atomic:
            return step.finding(
                "DBM013",
                table,
                "a CONCURRENTLY statement in an atomic migration fails: PostgreSQL runs "
                "CONCURRENTLY only outside a transaction block.",
                sql,
            )
        return None
    if kind == "rename_table" and unit.is_new(table):
        unit.new_tables.add(action.detail)
        return None
    if kind == "validate" and table is not None:
        unit.validated.add(table)
        return None
    if kind == "unknown":
        if not raw:
            return None
        return step.finding(
            "DBM011",
            table,
            "RunSQL statement the linter does not understand: "
            f"{_short(action.sql)!r}; its locks and rewrites are unknown.",
            sql,
        )
    if kind == "drop_default":
        return _drop_default(step, action, raw)
    if kind in ("harmless", "drop_index") or unit.is_new(table):
        return None
    quoted = f'"{table}"'
    if kind == "create_index":
        return _create_index(step, action)
    if kind == "reindex":
        target = f'"{table}"' if table else f"{action.detail.split()[0]} {action.detail[6:]!r}"
        return step.finding(
            "DBM016",
            table,
            f"REINDEX of {target.rstrip()} without CONCURRENTLY blocks writes to the table "
            "(and reads using the index) until the rebuild ends.",
            sql,
        )
    if kind == "rewrite_table":
        return step.finding(
            "DBM017",
            table,
            f"{action.detail} rewrites {quoted if table else 'the tables'} under an ACCESS "
            "EXCLUSIVE lock (no reads or writes meanwhile); it has no CONCURRENTLY form.",
            sql,
        )
    if kind == "add_constraint" and not action.not_valid:
        if action.detail == "foreign key":
            return step.finding(
                "DBM002",
                table,
                f"the new foreign key checks every existing row of {quoted} while writes to "
                "it and to the referenced table are blocked (SHARE ROW EXCLUSIVE).",
                sql,
            )
        if action.detail == "exclude":
            return step.finding(
                "DBM015",
                table,
                f"ADD CONSTRAINT ... EXCLUDE builds its index on {quoted} under an ACCESS "
                "EXCLUSIVE lock (no reads or writes meanwhile), with no concurrent form.",
                sql,
            )
        if action.detail == "check":
            return step.finding(
                "DBM003",
                table,
                f"the new CHECK constraint scans every row of {quoted} under an ACCESS "
                "EXCLUSIVE lock (no reads or writes meanwhile).",
                sql,
            )
        return step.finding(
            "DBM008",
            table,
            f"ADD CONSTRAINT ... {action.detail.upper()} builds its index on {quoted} under "
            "an ACCESS EXCLUSIVE lock (no reads or writes meanwhile).",
            sql,
        )
    if kind == "add_column":
        return _add_column(step, action, raw)
    if kind == "set_not_null" and table not in unit.validated:
        return step.finding(
            "DBM004",
            table,
            f'SET NOT NULL on {quoted}."{action.column}" scans the whole table under an '
            "ACCESS EXCLUSIVE lock (no reads or writes meanwhile).",
            sql,
        )
    if kind == "alter_type":
        return _alter_type(step, action)
    if kind == "drop_column" or kind == "drop_table":
        target = f'{quoted}."{action.column}"' if action.column else quoted
        return step.finding(
            "DBM010",
            table,
            f"drops {target}: processes still running the previous code read and write it "
            "until they restart, and fail.",
            sql,
        )
    if kind in ("rename_column", "rename_table"):
        old = f'{quoted}."{action.column}"' if action.column else quoted
        return step.finding(
            "DBM009",
            table,
            f"renames {old}: the code still running during the deploy uses the old name "
            "and fails until it restarts.",
            sql,
        )
    if kind == "data_change":
        return step.finding(
            "DBM012",
            table,
            f"changes rows of {quoted} inside the migration ({_short(action.sql)!r}); in an "
            "atomic migration the schema locks taken before it are held until it ends.",
            sql,
        )
    return None


def _create_index(step: Step, action: Action) -> Finding:
    table, name = action.table, action.detail
    index = f'"{name}" ' if name else ""
    if re.search(r"\b(?:varchar|text)_pattern_ops\b", action.sql, re.IGNORECASE):
        index += "(the second index Django adds on a text column, for LIKE queries) "
    if action.unique:
        return step.finding(
            "DBM008",
            table,
            f'CREATE UNIQUE INDEX {index}on "{table}" without CONCURRENTLY blocks every '
            "write to the table until the whole index is built.",
            [action.sql],
        )
    return step.finding(
        "DBM001",
        table,
        f'CREATE INDEX {index}on "{table}" without CONCURRENTLY blocks every write '
        "(INSERT, UPDATE, DELETE) to the table until the whole index is built.",
        [action.sql],
    )


_FLAGS = re.IGNORECASE | re.DOTALL
_GENERATED_STORED = re.compile(r"\bGENERATED\s+ALWAYS\s+AS\s*\(.*\)\s*STORED\b", _FLAGS)
_NOT_NULL = re.compile(r"\bNOT\s+NULL\b", re.IGNORECASE)


def _add_column(step: Step, action: Action, raw: bool) -> Finding | None:
    definition, table = action.detail, action.table
    column = f'"{table}"."{action.column}"'
    if re.search(r"\bREFERENCES\b", definition, re.IGNORECASE):
        return step.finding(
            "DBM002",
            table,
            f"the foreign key on the new column {column} is checked against every existing "
            "row while writes to both tables are blocked.",
            [action.sql],
        )
    if re.search(r"\bUNIQUE\b", definition, re.IGNORECASE):
        return step.finding(
            "DBM008",
            table,
            f"the UNIQUE new column {column} builds its index under an ACCESS EXCLUSIVE lock.",
            [action.sql],
        )
    if _GENERATED_STORED.search(definition):
        return step.finding(
            "DBM014",
            table,
            f"the stored generated column {column} is computed for every existing row: the "
            "whole table is rewritten under an ACCESS EXCLUSIVE lock.",
            [action.sql],
        )
    default = re.search(r"\bDEFAULT\b(.*)", definition, re.IGNORECASE | re.DOTALL)
    if default and statements.VOLATILE.search(default.group(1)):
        return step.finding(
            "DBM006",
            table,
            f"the volatile default of {column} is computed for every existing row: the "
            "whole table is rewritten under an ACCESS EXCLUSIVE lock.",
            [action.sql],
        )
    if raw and default is not None and _NOT_NULL.search(definition) and table is not None:
        step.unit.not_null_defaults.add((table, action.column or ""))
    if (
        raw
        and default is None
        and _NOT_NULL.search(definition)
        and "GENERATED" not in (definition.upper())
    ):
        # AddField's own rule (analysis._add_field) judges the operation, whose SQL sets
        # then drops a default; a RunSQL gets the same rule from its SQL
        return step.finding(
            "DBM005",
            table,
            f"{column} is NOT NULL without a database default: code still running during "
            "the deploy inserts rows without it and fails (and the ALTER fails outright "
            "on a table that has rows).",
            [action.sql],
        )
    return None


def _drop_default(step: Step, action: Action, raw: bool) -> Finding | None:
    """``ADD COLUMN ... DEFAULT x NOT NULL`` then ``DROP DEFAULT`` in ``RunSQL``: what
    ``AddField`` renders for a NOT NULL field without ``db_default``."""
    key = (action.table or "", action.column or "")
    if not raw or key not in step.unit.not_null_defaults:
        return None
    step.unit.not_null_defaults.discard(key)
    return step.finding(
        "DBM005",
        action.table,
        f'"{key[0]}"."{key[1]}" is NOT NULL and its default is dropped right after it is '
        "added: code still running during the deploy inserts rows without it and fails.",
        [action.sql],
    )


_WIDENINGS = re.compile(
    r"(varchar|character varying|numeric|decimal)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?"
)


def _rewrites(old: str, new: str) -> bool:
    """Whether changing a column from ``old`` to ``new`` rewrites the table."""
    old, new = old.strip().lower(), new.strip().lower()
    if old == new:
        return False
    if old.startswith(("varchar", "character varying")) and new == "text":
        return False
    was, now = _WIDENINGS.fullmatch(old), _WIDENINGS.fullmatch(new)
    if was is None or now is None or was.group(1)[:3] != now.group(1)[:3]:
        return True
    if now.group(2) is None:
        return False  # unbounded
    if was.group(2) is None or int(now.group(2)) < int(was.group(2)):
        return True
    return (was.group(3) or "0") != (now.group(3) or "0")


def _alter_type(step: Step, action: Action) -> Finding | None:
    new = re.split(r"\s+(?:USING|COLLATE)\s+", action.detail, flags=re.IGNORECASE)[0]
    old = None
    operation = step.operation
    if isinstance(operation, migrations.AlterField):
        model = step.from_state.apps.get_model(step.migration.app_label, operation.model_name)
        old_field = model._meta.get_field(operation.name)
        if getattr(old_field, "column", None) == action.column:
            old = old_field.db_type(step.unit.renderer)
    if old is not None and not _rewrites(old, new):
        return None
    was = f"from {old} " if old else ""
    return step.finding(
        "DBM007",
        action.table,
        f'changing "{action.table}"."{action.column}" {was}to {new} rewrites the table and '
        "its indexes under an ACCESS EXCLUSIVE lock (no reads or writes meanwhile).",
        [action.sql],
    )


def _short(sql: str, limit: int = 80) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."
