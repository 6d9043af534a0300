"""``demo_load``: drive the running demo's pages over HTTP for a while (see ``load.py``)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from example_project.demo.load import run


class Command(BaseCommand):
    help = "Send a minute (by default) of traffic to the running demo, then print the numbers."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The demo's root URL.")
        parser.add_argument(
            "--seconds", type=float, default=60.0, help="How long to send traffic (default 60)."
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=2,
            help="Concurrent clients (default 2).",
        )
        parser.add_argument(
            "--users", type=int, default=50, help="Pick user ids and e-mails among 1..N."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seconds"] <= 0 or options["threads"] < 1:
            raise CommandError("--seconds must be > 0 and --threads >= 1.", returncode=2)
        try:
            result = run(options["url"], options["seconds"], options["threads"], options["users"])
        except ValueError as e:
            raise CommandError(str(e), returncode=2) from e
        rate = result.requests / result.seconds if result.seconds else 0.0
        p50, p95 = result.percentile(0.5), result.percentile(0.95)
        self.stdout.write(
            f"{result.requests} requests in {result.seconds:.1f} s ({rate:.1f}/s); "
            f"statuses {dict(result.statuses)}; "
            f"p50 {p50 or 0:.1f} ms, p95 {p95 or 0:.1f} ms"
        )
        if not result.requests or set(result.statuses) - {"200"}:
            raise CommandError("some requests failed (is the demo running?)", returncode=1)
