"""The context the rules see: the operation being linted and what its unit shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from django_dbopt.migration_lint.findings import Finding
from django_dbopt.migration_lint.rules import RULES


@dataclass
class Unit:
    """What the operations linted together share: the renderer and the tables they created."""

    renderer: DatabaseWrapper
    #: tables that do not exist before the linted operations run (created by them)
    new_tables: set[str] = field(default_factory=set)
    #: tables known to exist before the plan (``None``: only ``new_tables`` decides)
    existing: set[str] | None = None
    #: tables on which a constraint was validated (``VALIDATE CONSTRAINT``) so far: a
    #: ``SET NOT NULL`` after it uses the validated ``CHECK (col IS NOT NULL)``, no scan
    validated: set[str] = field(default_factory=set)
    #: ``(table, column)`` added ``NOT NULL`` with a ``DEFAULT`` by a ``RunSQL`` so far: a
    #: later ``DROP DEFAULT`` on it is ``AddField`` without ``db_default`` (DBM005)
    not_null_defaults: set[tuple[str, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def is_new(self, table: str | None) -> bool:
        if table is None:
            return False
        return table in self.new_tables or (
            self.existing is not None and table not in self.existing
        )


@dataclass
class Step:
    unit: Unit
    migration: Migration
    index: int
    operation: Operation
    from_state: ProjectState
    to_state: ProjectState

    def finding(self, rule_id: str, table: str | None, what: str, sql: list[str]) -> Finding:
        rule = RULES[rule_id]
        where = (
            f"{self.migration.app_label}.{self.migration.name}, operation {self.index} "
            f"({self.operation.describe()})"
        )
        return Finding(
            rule=rule,
            severity=rule.severity,
            app_label=self.migration.app_label,
            migration=self.migration.name,
            operation_index=self.index,
            operation=self.operation.describe(),
            table=table,
            message=f"{where}: {what}",
            sql=sql,
        )
