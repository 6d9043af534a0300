"""``manage.py dbopt_migrate``: ``migrate`` after the lint, with lock, timeouts and retries."""

from __future__ import annotations

import json
from io import TextIOBase
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.migrate_hook import backup_hook, rollback
from django_dbopt.migration_lint import LintReport, SelectionError, Severity
from django_dbopt.migration_run import RunRecord, run

#: exit statuses (0: applied or nothing to do)
FAILED, USAGE, LOCKED, REFUSED, INTERRUPTED = 1, 2, 3, 4, 5


class Command(BaseCommand):
    help = (
        "Apply migrations like migrate, after linting the plan (refused on errors unless "
        "--force); on PostgreSQL (a primary) under an advisory lock taken before planning, "
        "with a short lock_timeout growing over the retries of a lock timeout, "
        "statement_timeout on every statement, never unapplying; SIGTERM/SIGINT stop the "
        "run and record it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label", nargs="?", help="Migrate this app only (and its dependencies)."
        )
        parser.add_argument(
            "migration_name", nargs="?", help="Migrate the app up to this migration (or a prefix)."
        )
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="The database to migrate (default: 'default').",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Apply even when the lint reports errors.",
        )
        parser.add_argument(
            "--plan",
            action="store_true",
            dest="dry_run",
            help="Show the plan and the lint's findings; apply nothing.",
        )
        parser.add_argument(
            "--backup",
            action="store_true",
            default=None,
            help="Back up the tables the plan touches first (default: BACKUP.BEFORE_MIGRATE).",
        )
        parser.add_argument(
            "--rollback-on-failure",
            action="store_true",
            help="With --backup: if a migration fails, unapply this run's migrations and put "
            "the backed-up rows back, when every applied operation is reversible.",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text: migrate's output and a summary; json: the run record only.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["format"] == "json"
        verbosity = 0 if as_json else int(options["verbosity"])
        try:
            record = run(
                options["database"],
                options["app_label"],
                options["migration_name"],
                force=options["force"],
                dry_run=options["dry_run"],
                # the stream itself: migrate writes "Applying x..." and " OK" on one line
                stdout=None if as_json else cast("TextIOBase", self.stdout._out),
                verbosity=verbosity,
                on_lint=None if as_json else self._write_lint,
                before_apply=backup_hook(options["backup"]),
            )
        except SelectionError as e:
            raise CommandError(str(e), returncode=USAGE) from e
        except BackupError as e:
            raise CommandError(f"backup before migrating failed: {e}", returncode=FAILED) from e
        if options["rollback_on_failure"]:
            rollback(record)
        if as_json:
            self.stdout.write(json.dumps(record.as_dict(), indent=2))
        else:
            self._write_summary(record)
        returncode = {
            "failed": FAILED,
            "locked": LOCKED,
            "refused": REFUSED,
            "interrupted": INTERRUPTED,
        }.get(record.outcome)
        if returncode is not None:
            raise CommandError(
                f"dbopt_migrate {record.outcome}: {record.error}", returncode=returncode
            )

    def _write_lint(self, report: LintReport) -> None:
        shown = [f for f in report.findings if f.severity >= Severity.WARNING]
        counts = report.counts()
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Lint of the plan: {counts['error']} error(s), {counts['warning']} warning(s)"
                + ("" if report.sizes else f" ({report.sizes_note})")
            )
        )
        for finding in shown:
            style = self.style.ERROR if finding.severity is Severity.ERROR else self.style.WARNING
            self.stdout.write(
                style(f"  {finding.severity.label.upper()} {finding.rule.id} {finding.rule.title}")
            )
            self.stdout.write(f"    {finding.message}")
            self.stdout.write(f"    safe alternative: {finding.rule.safe_alternative}")

    def _write_summary(self, record: RunRecord) -> None:
        if record.outcome == "planned":
            self.stdout.write(self.style.MIGRATE_HEADING("Plan (nothing applied):"))
        for step in record.migrations:
            retried = f", {step.attempts} attempts" if step.attempts > 1 else ""
            self.stdout.write(f"  {step.migration}: {step.outcome}{retried}")
            for name in step.dropped_invalid_indexes:
                self.stdout.write(self.style.WARNING(f"    dropped INVALID index {name}"))
            for note in step.notes:
                self.stdout.write(f"    note: {note}")
        for note in record.notes:
            self.stdout.write(f"  note: {note}")
        if record.vendor == "postgresql" and any(s.attempts for s in record.migrations):
            self.stdout.write(
                f"  worst wait a reader could have seen behind this run's locks: "
                f"{record.worst_reader_wait_ms} ms"
            )
        if record.outcome in ("applied", "nothing to do", "planned"):
            self.stdout.write(self.style.SUCCESS(f"dbopt_migrate: {record.outcome}."))
