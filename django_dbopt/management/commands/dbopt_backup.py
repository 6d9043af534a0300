"""``manage.py dbopt_backup``: a verified logical backup (or a pgBackRest physical one)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.backup.extras import missing_extra_error

try:  # the pipeline needs the crypto and compression extras
    from django_dbopt.backup.cli import FAILED, progress_for, write_json
    from django_dbopt.backup.create import create_backup
    from django_dbopt.backup.errors import BackupError
    from django_dbopt.backup.progress import human_bytes
except ImportError as e:
    missing_extra: ImportError | None = e
else:
    missing_extra = None


class Command(BaseCommand):
    help = (
        "Back up a database: pg_dump (or SQLite's backup API) streamed through zstandard, "
        "AES-256-GCM and SHA-256 to every configured storage, manifest last, then verified."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="The database to back up (default: 'default').",
        )
        parser.add_argument(
            "--table",
            action="append",
            dest="tables",
            metavar="SCHEMA.TABLE",
            help="Back up only this table (repeat for several; PostgreSQL).",
        )
        parser.add_argument(
            "--no-verify",
            action="store_true",
            help="Skip the verification after the backup (BACKUP.VERIFY_AFTER_BACKUP).",
        )
        parser.add_argument(
            "--physical",
            choices=("full", "diff", "incr"),
            help="A pgBackRest physical backup of this type instead (point-in-time recovery).",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text: a summary; json: the manifest and the verification.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if missing_extra is not None:
            raise missing_extra_error(missing_extra) from missing_extra
        if options["physical"]:
            self.physical(options)
            return
        progress = progress_for(self, options, "backup")
        try:
            manifest = create_backup(
                options["database"],
                tables=options["tables"],
                progress=progress,
                verify=False if options["no_verify"] else None,
            )
        except BackupError as e:
            raise CommandError(f"backup failed: {e}", returncode=FAILED) from e
        finally:
            if progress is not None:
                progress.done()
        from django_dbopt.backup.catalog import holders, verification_in

        storage = holders(manifest.backup_id)[0][0]
        verification = verification_in(storage, manifest.backup_id)
        if options["format"] == "json":
            write_json(self.stdout, {"manifest": manifest, "verification": verification})
        else:
            self.stdout.write(
                f"Backup {manifest.backup_id}: {len(manifest.tables)} tables, "
                f"{human_bytes(manifest.plain_bytes)} dumped, "
                f"{human_bytes(manifest.stored_bytes)} stored."
            )
            if verification is not None:
                state = "verified" if verification.ok else f"FAILED: {verification.error}"
                style = self.style.SUCCESS if verification.ok else self.style.ERROR
                self.stdout.write(style(f"Verification: {state}"))
        if verification is not None and not verification.ok:
            raise CommandError("the new backup failed verification", returncode=FAILED)

    def physical(self, options: dict[str, Any]) -> None:
        from django_dbopt.backup.physical import physical_backup

        try:
            info = physical_backup(options["physical"], options["database"])
        except BackupError as e:
            raise CommandError(f"physical backup failed: {e}", returncode=FAILED) from e
        if options["format"] == "json":
            write_json(self.stdout, info)
        else:
            self.stdout.write(self.style.SUCCESS(f"pgBackRest {options['physical']} backup done."))
