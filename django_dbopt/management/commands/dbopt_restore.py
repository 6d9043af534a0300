"""``manage.py dbopt_restore``: restore a backup into a new database (or, asked twice, over
the live one); or recover a PostgreSQL cluster to a point in time with pgBackRest."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.backup.extras import missing_extra_error

try:  # the pipeline needs the crypto and compression extras
    from django_dbopt.backup.cli import FAILED, REFUSED, USAGE, progress_for, write_json
    from django_dbopt.backup.errors import BackupError, BackupNotFound, RestoreRefused
except ImportError as e:
    missing_extra: ImportError | None = e
else:
    missing_extra = None


class Command(BaseCommand):
    help = (
        "Restore a logical backup: verified first, into a new database (or file) unless "
        "--replace; or, with --pitr, recover a cluster to a point in time into a new data "
        "directory through pgBackRest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "backup_id", nargs="?", help="The backup to restore (see dbopt_backups list)."
        )
        parser.add_argument(
            "--latest",
            action="store_true",
            help="Restore the newest verified full backup of --database.",
        )
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="The database whose server (or SQLite file) to restore to (default: 'default').",
        )
        parser.add_argument(
            "--target",
            help="The new database's name (PostgreSQL) or file (SQLite); default: "
            "<name>_restored_<timestamp>.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the live database once the restore succeeded (the old one is "
            "renamed aside on PostgreSQL). Asks for confirmation.",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (with --replace).",
        )
        parser.add_argument(
            "--pitr",
            metavar="TIMESTAMP",
            help="Point-in-time recovery through pgBackRest to this time "
            "(e.g. '2026-01-31 12:00:00+00'); needs --to.",
        )
        parser.add_argument("--to", metavar="DATA_DIR", help="The new data directory (--pitr).")
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text: a summary; json: the result.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if missing_extra is not None:
            raise missing_extra_error(missing_extra) from missing_extra
        if options["pitr"]:
            self.pitr(options)
            return
        backup_id = self.pick(options)
        database = options["database"]
        if options["replace"] and options["interactive"]:
            name = str(connections[database].settings_dict["NAME"])
            answer = input(
                f"This replaces the live database {name!r} with backup {backup_id}.\n"
                f"Type the database name to confirm: "
            )
            if answer.strip() != name:
                raise CommandError("not confirmed: nothing restored", returncode=REFUSED)
        progress = progress_for(self, options, "restore")
        from django_dbopt.backup.restore import restore_backup

        try:
            result = restore_backup(
                backup_id, database, target=options["target"], replace=options["replace"],
                progress=progress,
            )  # fmt: skip
        except RestoreRefused as e:
            raise CommandError(f"restore refused: {e}", returncode=REFUSED) from e
        except BackupNotFound as e:
            raise CommandError(str(e), returncode=USAGE) from e
        except BackupError as e:
            raise CommandError(f"restore failed: {e}", returncode=FAILED) from e
        finally:
            if progress is not None:
                progress.done()
        if options["format"] == "json":
            write_json(self.stdout, result)
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {result.backup_id} into {result.target}: {result.tables} tables, "
                f"{result.rows} rows, row counts match the manifest."
            )
        )
        if result.previous:
            self.stdout.write(f"The previous database is kept as {result.previous!r}.")

    def pick(self, options: dict[str, Any]) -> str:
        if options["backup_id"] and options["latest"]:
            raise CommandError("give a backup id or --latest, not both", returncode=USAGE)
        if options["backup_id"]:
            return str(options["backup_id"])
        if not options["latest"]:
            raise CommandError("give a backup id, or --latest", returncode=USAGE)
        from django_dbopt.backup.catalog import list_backups

        verified = [
            e for e in list_backups(options["database"]) if e.verified and not e.manifest.partial
        ]
        if not verified:
            raise CommandError(
                f"no verified full backup of {options['database']!r}", returncode=USAGE
            )
        return verified[-1].backup_id

    def pitr(self, options: dict[str, Any]) -> None:
        if not options["to"]:
            raise CommandError("--pitr needs --to <new data directory>", returncode=USAGE)
        from django_dbopt.backup.physical import restore_to_time

        try:
            info = restore_to_time(options["pitr"], options["to"], options["database"])
        except RestoreRefused as e:
            raise CommandError(f"restore refused: {e}", returncode=REFUSED) from e
        except BackupError as e:
            raise CommandError(f"point-in-time restore failed: {e}", returncode=FAILED) from e
        if options["format"] == "json":
            write_json(self.stdout, info)
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Restored the cluster to {options['pitr']} into {options['to']}. "
                    "Start it with pg_ctl -D <dir> start: it replays WAL up to that time."
                )
            )
