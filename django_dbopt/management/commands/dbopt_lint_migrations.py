"""``manage.py dbopt_lint_migrations``: unsafe operations in migrations, before they run."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from django_dbopt.conf import get_config
from django_dbopt.migration_lint import Finding, LintReport, SelectionError, Severity, lint

#: exit status when findings reach ``--fail-on``; usage errors exit with 2
FINDINGS_RETURNCODE = 1
USAGE_RETURNCODE = 2


class Command(BaseCommand):
    help = (
        "Report unsafe operations (locks, rewrites, breaking renames and drops) in the "
        "migrations migrate would run, each with a safe alternative; weighted by live "
        "table sizes on PostgreSQL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label", nargs="?", help="Lint this app's migrations (default: every app's)."
        )
        parser.add_argument(
            "migration_name", nargs="?", help="Lint only this migration of the app (or a prefix)."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="every",
            help="Lint every migration, applied or not (default: only the unapplied ones).",
        )
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="The database whose plan and table sizes are used (default: 'default').",
        )
        parser.add_argument(
            "--offline",
            action="store_true",
            help="Do not connect to the database: no table sizes; needs app_label or --all.",
        )
        parser.add_argument(
            "--fail-on",
            choices=("info", "warning", "error", "never"),
            help="Exit with status 1 when a finding is at least this severe (default: "
            "DBOPT['MIGRATIONS']['FAIL_ON'], 'error').",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="Output format (default: text; json is documented in docs/migrations.md).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["app_label"] and options["every"]:
            raise CommandError("Give either app_label or --all.", returncode=USAGE_RETURNCODE)
        try:
            report = lint(
                options["database"],
                options["app_label"],
                options["migration_name"],
                every=options["every"],
                offline=options["offline"],
            )
        except SelectionError as e:
            raise CommandError(str(e), returncode=USAGE_RETURNCODE) from e
        except DatabaseError as e:
            raise CommandError(
                f"Cannot read the migration history of {options['database']!r} ({e}). "
                "Use --offline with app_label or --all to lint without the database.",
                returncode=USAGE_RETURNCODE,
            ) from e
        fail_label = options["fail_on"] or get_config().migrations.fail_on
        fail_on = None if fail_label == "never" else Severity.parse(fail_label)
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(fail_on), indent=2))
        else:
            self._write_text(report, fail_on, int(options["verbosity"]))
        failing = report.at_least(fail_on) if fail_on else []
        if fail_on and failing:
            raise CommandError(
                f"{len(failing)} migration finding(s) at or above {fail_on.label}.",
                returncode=FINDINGS_RETURNCODE,
            )

    def _write_text(self, report: LintReport, fail_on: Severity | None, verbosity: int) -> None:
        count = len(report.migrations)
        sizes = "live table sizes" if report.sizes else report.sizes_note
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Linted {count} migration(s) ({report.selection}) for {report.database!r}: "
                f"{sizes}."
            )
        )
        if verbosity > 1:
            for label in report.migrations:
                self.stdout.write(f"  {label}")
        for finding in report.findings:
            self._write_finding(finding, verbosity)
        if verbosity > 1:
            for finding in report.ignored:
                self.stdout.write(
                    f"  ignored ({finding.ignored_by}): {finding.rule.id} "
                    f"{finding.migration_label} operation {finding.operation_index}"
                )
            for note in report.notes:
                self.stdout.write(f"  note: {note}")
        counts = report.counts()
        summary = ", ".join(f"{n} {label}" for label, n in reversed(counts.items()))
        threshold = fail_on.label if fail_on else "never"
        line = (
            f"{len(report.findings)} finding(s): {summary}; {len(report.ignored)} ignored "
            f"(fail on: {threshold})."
        )
        failed = fail_on is not None and report.at_least(fail_on)
        self.stdout.write(self.style.ERROR(line) if failed else self.style.SUCCESS(line))

    def _write_finding(self, finding: Finding, verbosity: int) -> None:
        style = {
            Severity.ERROR: self.style.ERROR,
            Severity.WARNING: self.style.WARNING,
            Severity.INFO: self.style.NOTICE,
        }[finding.severity]
        self.stdout.write(
            style(f"{finding.severity.label.upper()} {finding.rule.id} {finding.rule.title}")
        )
        self.stdout.write(f"  {finding.message}")
        self.stdout.write(f"  safe alternative: {finding.rule.safe_alternative}")
        if verbosity > 1:
            for statement in finding.sql:
                self.stdout.write(f"  sql: {statement}")
