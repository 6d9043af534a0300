"""``manage.py dbopt_report``: the query monitor's findings from the shared store."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor.flush import flush_now, maintain_now, store_errors
from django_dbopt.monitor.report import build_report, check_view, parse_since
from django_dbopt.monitor.text_report import render


class Command(BaseCommand):
    help = (
        "Report the query monitor's top fingerprints (total time, p95, calls), slow queries, "
        "N+1 findings and index advice from the shared store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="Output format."
        )
        parser.add_argument(
            "--since",
            help="Only data from this far back: 30m, 6h, 7d, or an ISO 8601 date/time.",
        )
        parser.add_argument("--view", help="Only queries run by this view (URL name or path).")
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="Database to read indexes from and to EXPLAIN on (default: default).",
        )
        parser.add_argument(
            "--limit", type=int, default=20, help="Rows per section (default: 20)."
        )
        parser.add_argument(
            "--explain-top",
            type=int,
            default=0,
            metavar="N",
            help="EXPLAIN the N SELECT fingerprints with the most total time (plans cached).",
        )
        parser.add_argument(
            "--no-advice", action="store_true", help="Skip index advice and the index report."
        )
        parser.add_argument(
            "--maintain",
            action="store_true",
            help="Compact, roll up and prune the store before reporting.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            try:
                since = parse_since(options["since"])
            except ValueError as e:
                raise CommandError(
                    f"--since {options['since']!r}: use 30m, 6h, 7d or an ISO date ({e})"
                ) from e
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if options["explain_top"] < 0:
            raise CommandError("--explain-top must be zero or more")
        errors: tuple[type[BaseException], ...] = (ServiceUnavailable, *store_errors())
        try:
            flush_now()
            if options["maintain"]:
                done = maintain_now()
                if options["verbosity"] > 1:
                    self.stderr.write(f"maintenance: {done}")
            if options["view"]:
                try:
                    check_view(options["view"], since)
                except ValueError as e:
                    raise CommandError(str(e)) from e
            report = build_report(
                since=since,
                view=options["view"],
                using=options["database"],
                limit=options["limit"],
                explain_top=options["explain_top"],
                with_advice=not options["no_advice"],
            )
        except errors as e:
            raise CommandError(f"the monitor's store is unavailable: {e}", returncode=2) from e
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.stdout.write(render(report, options["verbosity"]), ending="")
