"""``manage.py dbopt_replicas``: probe every replica now and show its state."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.routing.health import monitor
from django_dbopt.routing.status import RoutingStatus, status
from django_dbopt.topology import primary_of


class Command(BaseCommand):
    help = (
        "Probe every replica of DBOPT['ROUTING']['REPLICAS'] and show its role, lag in "
        "seconds and WAL bytes, circuit breaker and weight. Read counters are per process: "
        "see the admin page or django_dbopt.routing.status() in the serving process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            choices=tuple(connections),
            help="Only the cluster this alias belongs to (a primary or one of its replicas).",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="Output format (default: text).",
        )
        parser.add_argument(
            "--watch",
            type=float,
            metavar="SECONDS",
            help="Probe and print again every SECONDS until interrupted (or --count).",
        )
        parser.add_argument(
            "--count",
            type=int,
            metavar="N",
            help="With --watch: stop after N reports.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        watch: float | None = options["watch"]
        count: int | None = options["count"]
        if watch is not None and watch <= 0:
            raise CommandError("--watch needs a positive number of seconds.", returncode=2)
        if count is not None and count < 1:
            raise CommandError("--count must be at least 1.", returncode=2)
        if count is not None and watch is None:
            raise CommandError("--count only makes sense with --watch.", returncode=2)
        reports = 0
        try:
            while True:
                self._report(options)
                reports += 1
                if watch is None or (count is not None and reports >= count):
                    break
                time.sleep(watch)
        except KeyboardInterrupt:
            pass
        finally:
            monitor.stop()  # closes the probe connections

    def _report(self, options: dict[str, Any]) -> None:
        report = status(refresh=True)
        database: str | None = options["database"]
        if database is not None:
            cluster = primary_of(database)
            report = RoutingStatus(
                primaries=[p for p in report.primaries if p.alias == cluster],
                replicas=[r for r in report.replicas if r.primary == cluster],
                counters=report.counters,
                probing=report.probing,
            )
        if options["format"] == "json":
            data = report.as_dict()
            for replica in data["replicas"]:
                replica["reads"] = None  # this process served none: not a measurement
            del data["counters"], data["probing"]
            self.stdout.write(json.dumps(data, indent=2, sort_keys=True))
            return
        self._text(report, int(options["verbosity"]))

    def _text(self, report: RoutingStatus, verbosity: int) -> None:
        if not report.replicas:
            self.stdout.write("No replicas configured (DBOPT['ROUTING']['REPLICAS']).")
            return
        for p in report.primaries:
            line = f"primary {p.alias}: {p.state}"
            if verbosity >= 2:
                line += f", system {p.system_id}, timeline {p.timeline}, WAL {p.wal_lsn}"
            if p.last_error:
                line += f" ({p.last_error})"
            self.stdout.write(line)
        header = f"{'replica':<16} {'primary':<12} {'state':<11} {'role':<8} "
        header += f"{'lag s':>8} {'lag bytes':>12} {'breaker':<10} {'weight':>6}"
        self.stdout.write(header)
        for r in report.replicas:
            role = {True: "standby", False: "primary", None: "?"}[r.in_recovery]
            lag_s = "no data" if r.lag_s is None else f"{r.lag_s:.3f}"
            lag_b = "no data" if r.lag_bytes is None else str(r.lag_bytes)
            style = self.style.SUCCESS if r.in_rotation else self.style.WARNING
            row = f"{r.alias:<16} {r.primary:<12} {r.state:<11} {role:<8} "
            row += f"{lag_s:>8} {lag_b:>12} {r.breaker:<10} {r.weight:>6g}"
            self.stdout.write(style(row))
            if r.last_error and verbosity >= 1:
                self.stdout.write(f"  last error: {r.last_error}")
            if verbosity >= 2:
                self.stdout.write(f"  replayed up to {r.replay_lsn}")
