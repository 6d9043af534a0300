"""The migration linter behind ``manage.py dbopt_lint_migrations`` (docs/migrations.md).

``lint()`` returns a ``LintReport``: a ``Finding`` per unsafe operation, each naming its
rule (``RULES``, ids ``DBM001``...), severity and safe alternative.
"""

from __future__ import annotations

from django_dbopt.migration_lint.findings import Finding, LintReport
from django_dbopt.migration_lint.lint import lint
from django_dbopt.migration_lint.rules import RULES, Rule, Severity
from django_dbopt.migration_lint.selection import SelectionError

__all__ = ["RULES", "Finding", "LintReport", "Rule", "SelectionError", "Severity", "lint"]
