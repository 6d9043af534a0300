"""What the lint found: ``Finding`` and the ``LintReport`` the command prints.

``LintReport.as_dict()`` is the ``--format json`` output; its schema is documented in
``docs/migrations.md`` (keep the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django_dbopt.migration_lint.rules import Rule, Severity

#: bumped when a key is removed or changes meaning (adding keys keeps it)
JSON_SCHEMA_VERSION = 1


@dataclass
class Finding:
    rule: Rule
    severity: Severity
    app_label: str
    migration: str
    #: 1-based position of the operation in the migration's ``operations``
    operation_index: int
    operation: str
    table: str | None
    message: str
    sql: list[str] = field(default_factory=list)
    table_rows: int | None = None
    table_bytes: int | None = None
    #: ``"migration"`` (its ``dbopt_ignore``) or ``"settings"`` (``MIGRATIONS.IGNORE``)
    ignored_by: str | None = None

    @property
    def migration_label(self) -> str:
        return f"{self.app_label}.{self.migration}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "title": self.rule.title,
            "severity": self.severity.label,
            "base_severity": self.rule.severity.label,
            "app_label": self.app_label,
            "migration": self.migration,
            "operation_index": self.operation_index,
            "operation": self.operation,
            "table": self.table,
            "table_rows": self.table_rows,
            "table_bytes": self.table_bytes,
            "message": self.message,
            "safe_alternative": self.rule.safe_alternative,
            "sql": self.sql,
            "ignored_by": self.ignored_by,
        }


@dataclass
class LintReport:
    database: str
    #: ``"unapplied"``, ``"named"`` or ``"all"``
    selection: str
    #: whether live table sizes weighted the findings
    sizes: bool
    #: why not, when ``sizes`` is false
    sizes_note: str
    migrations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    ignored: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= severity]

    def counts(self) -> dict[str, int]:
        return {s.label: sum(f.severity == s for f in self.findings) for s in Severity}

    def as_dict(self, fail_on: Severity | None) -> dict[str, Any]:
        return {
            "version": JSON_SCHEMA_VERSION,
            "database": self.database,
            "selection": self.selection,
            "sizes": self.sizes,
            "sizes_note": self.sizes_note,
            "migrations": self.migrations,
            "counts": self.counts(),
            "fail_on": fail_on.label if fail_on else "never",
            "failed": bool(fail_on and self.at_least(fail_on)),
            "findings": [f.as_dict() for f in self.findings],
            "ignored": [f.as_dict() for f in self.ignored],
            "notes": self.notes,
        }
