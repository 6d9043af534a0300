"""``manage.py dbopt_backups list|verify|prune``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.backup.extras import missing_extra_error

try:  # the pipeline needs the crypto and compression extras
    from django_dbopt.backup.cli import (
        CORRUPT,
        FAILED,
        USAGE,
        entry_dict,
        entry_line,
        progress_for,
        write_json,
    )
    from django_dbopt.backup.errors import BackupError, BackupNotFound
except ImportError as e:
    missing_extra: ImportError | None = e
else:
    missing_extra = None


class Command(BaseCommand):
    help = "List, verify and prune backups."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="List backups with their verification state.")
        verify = sub.add_parser("verify", help="Verify backups (re-hash, decrypt, list).")
        prune = sub.add_parser("prune", help="Delete backups the retention policy lets go.")
        for p in (listing, verify, prune):
            p.add_argument(
                "--database",
                choices=tuple(connections),
                help="Only this database's backups (default: all).",
            )
            p.add_argument(
                "--format",
                choices=("text", "json"),
                default="text",
                help="text: one line each; json: everything.",
            )
        listing.add_argument(
            "--physical",
            action="store_true",
            help="List pgBackRest's physical backups (pgbackrest info) instead.",
        )
        verify.add_argument(
            "backup_ids",
            nargs="*",
            metavar="BACKUP_ID",
            help="Backups to verify (default: the newest of each database).",
        )
        verify.add_argument(
            "--restore-test",
            action="store_true",
            help="Also restore into a scratch database and compare row counts per table.",
        )
        verify.add_argument(
            "--physical",
            action="store_true",
            help="Run pgbackrest verify on the repository instead (its output is read: it "
            "exits 0 on corruption).",
        )
        prune.add_argument(
            "--dry-run", action="store_true", help="Show what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if missing_extra is not None:
            raise missing_extra_error(missing_extra) from missing_extra
        try:
            getattr(self, f"do_{options['action']}")(options)
        except BackupNotFound as e:
            raise CommandError(str(e), returncode=USAGE) from e
        except BackupError as e:
            raise CommandError(str(e), returncode=FAILED) from e

    def do_list(self, options: dict[str, Any]) -> None:
        if options["physical"]:
            from django_dbopt.backup.physical import physical_backups

            found = physical_backups(options["database"] or "default")
            if options["format"] == "json":
                write_json(self.stdout, found)
            for item in [] if options["format"] == "json" else found:
                self.stdout.write(
                    f"{item['label']}  {item['type']}  {item['start']} .. {item['stop']}  "
                    f"WAL {item['archive_start']} .. {item['archive_stop']}"
                )
            return
        from django_dbopt.backup.catalog import list_backups

        entries = list_backups(options["database"])
        if options["format"] == "json":
            write_json(self.stdout, [entry_dict(e) for e in entries])
            return
        if not entries:
            self.stdout.write("No backups.")
        for entry in entries:
            self.stdout.write(entry_line(entry))

    def do_verify(self, options: dict[str, Any]) -> None:
        if options["physical"]:
            from django_dbopt.backup.physical import verify_repository

            report = verify_repository(options["database"] or "default")
            if options["format"] == "json":
                write_json(self.stdout, report)
            else:
                self.stdout.write(f"pgbackrest verify: {'ok' if report['ok'] else 'FAILED'}")
                for line in report["problems"]:
                    self.stdout.write(f"  {line}")
            if not report["ok"]:
                raise CommandError(
                    "the pgBackRest repository failed verification", returncode=CORRUPT
                )
            return
        from django_dbopt.backup.catalog import list_backups
        from django_dbopt.backup.verify import verify_backup

        ids = options["backup_ids"]
        if not ids:
            newest: dict[str, str] = {}
            for entry in list_backups(options["database"]):
                newest[entry.manifest.database] = entry.backup_id
            ids = list(newest.values())
        if not ids:
            raise CommandError("no backups to verify", returncode=USAGE)
        results = []
        for backup_id in ids:
            progress = progress_for(self, options, f"verify {backup_id}")
            results.append(verify_backup(backup_id, options["restore_test"], progress=progress))
            if progress is not None:
                progress.done()
        if options["format"] == "json":
            write_json(self.stdout, results)
        else:
            for r in results:
                test = ""
                if r.restore_test is not None:
                    test = f", test-restore of {r.restore_test['tables']} tables"
                line = f"{r.backup_id}: " + (f"verified{test}" if r.ok else f"FAILED: {r.error}")
                self.stdout.write((self.style.SUCCESS if r.ok else self.style.ERROR)(line))
        if not all(r.ok for r in results):
            raise CommandError("verification failed", returncode=CORRUPT)

    def do_prune(self, options: dict[str, Any]) -> None:
        from django_dbopt.backup.retention import prune

        decisions = prune(options["database"], dry_run=options["dry_run"])
        if options["format"] == "json":
            write_json(
                self.stdout,
                [
                    {"backup_id": d.item.backup_id, "keep": d.keep, "reasons": d.reasons}
                    for d in decisions
                ],
            )
            return
        verb = "would delete" if options["dry_run"] else "deleted"
        for d in decisions:
            why = ", ".join(d.reasons) or "no rule keeps it"
            self.stdout.write(f"{'keep' if d.keep else verb}  {d.item.backup_id}  ({why})")
