"""``manage.py dbopt_alerts``: alerts firing and recent history; evaluate the rules now;
write the rules as a Prometheus alerting rules file."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from django_dbopt.ops import alerts, prometheus_rules


class Command(BaseCommand):
    help = (
        "List alerts firing and resolved in the last days; --evaluate runs the rules once; "
        "--prometheus-rules writes them as a Prometheus alerting rules file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--evaluate",
            action="store_true",
            help="Evaluate every enabled rule now (fires and resolves, with notifications).",
        )
        parser.add_argument(
            "--prometheus-rules",
            metavar="PATH",
            help="Write the rules as a Prometheus alerting rules file to PATH ('-': stdout).",
        )
        parser.add_argument(
            "--days", type=int, default=7, help="History shown, in days (default: 7)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        if options["prometheus_rules"]:
            self._write_rules(options["prometheus_rules"])
            return
        if options["days"] < 0:
            raise CommandError("--days must be >= 0.", returncode=2)
        try:
            if options["evaluate"]:
                done = alerts.evaluate()
                for kind in ("fired", "resolved"):
                    for name in done[kind]:
                        self.stdout.write(f"{kind}: {name}")
            self._history(options["days"])
        except DatabaseError as e:
            raise CommandError(f"cannot read or record alerts: {e}", returncode=1) from e

    def _write_rules(self, target: str) -> None:
        text = prometheus_rules.render()
        if target == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(target).write_text(text)
        except OSError as e:
            raise CommandError(f"cannot write {target}: {e}", returncode=1) from e
        if self.verbosity:
            self.stdout.write(self.style.SUCCESS(f"Prometheus rules written to {target}"))

    def _history(self, days: int) -> None:
        from django_dbopt.ops.models import Alert

        since = timezone.now() - datetime.timedelta(days=days)
        recent = Q(fired_at__gte=since) | Q(resolved_at__isnull=True)
        rows = list(Alert.objects.filter(recent))
        if not rows:
            self.stdout.write("No alert in this period.")
        for a in rows:
            state = "FIRING" if a.firing else f"resolved {a.resolved_at:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(
                f"{a.fired_at:%Y-%m-%d %H:%M:%S} [{a.severity}] {state}: {a.message}"
                f" — {a.evidence}"
            )
