"""``manage.py dbopt_pool``: pool configuration, measured numbers and advice per alias."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.pool.report import pool_report
from django_dbopt.pool.stats import pooled_aliases


class Command(BaseCommand):
    help = (
        "Show each pooled database's pool settings, the numbers this process measured, the "
        "server's connections (pg_stat_activity) and sizing advice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            choices=tuple(connections),
            help="Only this alias (default: every alias with OPTIONS['pool']).",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="Output format (default: text).",
        )
        parser.add_argument(
            "--processes",
            type=int,
            help="How many server processes (e.g. gunicorn workers) share the database: "
            "checks processes x max_size against the server's max_connections.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pooled = pooled_aliases()
        alias = options["database"]
        if alias is not None and alias not in pooled:
            raise CommandError(f"Database {alias!r} has no OPTIONS['pool'].", returncode=2)
        if not pooled:
            raise CommandError(
                "No database has OPTIONS['pool']; see docs/pool.md to enable pooling.",
                returncode=2,
            )
        processes = options["processes"]
        if processes is not None and processes < 1:
            raise CommandError("--processes must be at least 1.", returncode=2)
        report = pool_report([alias] if alias else None, processes)
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        for item in report:
            self._write_text(item, int(options["verbosity"]))

    def _write_text(self, item: dict[str, Any], verbosity: int) -> None:
        config, stats, server = item["config"], item["process"], item["server"]
        self.stdout.write(self.style.MIGRATE_HEADING(f"Pool of {item['alias']!r}"))
        engine = "django-dbopt engine" if config["engine_managed"] else "Django's plain pool"
        self.stdout.write(
            f"  settings: min_size {config['min_size']}, max_size {config['max_size']}, "
            f"timeout {config['timeout_s']} s, session reset {config['session_reset']} "
            f"({engine})"
        )
        if stats is None:
            self.stdout.write(
                "  this process: no data (pool numbers live in each server process: see the "
                "admin page or the metrics endpoint)"
            )
        else:
            counts = stats["counters"]
            self.stdout.write(
                f"  this process: {counts['requests_num']} checkouts, "
                f"{counts['requests_queued']} waited, {counts['requests_errors']} failed; "
                f"size {stats['pool_size']}, available {stats['pool_available']}"
            )
        if "error" in server:
            self.stdout.write(self.style.ERROR(f"  server: {server['error']}"))
        else:
            self.stdout.write(
                f"  server: {server['database_connections']} connections to this database "
                f"({server['active']} active, {server['idle']} idle, "
                f"{server['idle_in_transaction']} idle in transaction); "
                f"{server['client_connections']} of max_connections {server['max_connections']}"
            )
        advice = item["advice"]
        style = (
            self.style.WARNING if advice["action"] in ("grow", "shrink") else self.style.SUCCESS
        )
        self.stdout.write(style(f"  advice: {advice['action']}"))
        if verbosity > 1 or advice["action"] in ("grow", "shrink"):
            for reason in advice["reasons"]:
                self.stdout.write(f"    - {reason}")
        for finding in item["findings"]:
            self.stdout.write(self.style.WARNING(f"  ! {finding}"))
