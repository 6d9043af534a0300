"""``seed_demo``: fill the demo tables with realistic rows, fast."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from example_project.demo import seeding

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Add realistic demo users, projects, tasks and audit log entries "
        f"(bulk inserts; every seeded user's password is {seeding.SEED_PASSWORD!r})."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--users", type=int, default=200, help="Users to add (default: 200).")
        parser.add_argument(
            "--projects",
            type=int,
            default=None,
            help="Projects to add (default: one per four new users).",
        )
        parser.add_argument("--tasks", type=int, default=5000, help="Tasks to add (default: 5000).")
        parser.add_argument(
            "--audit-logs",
            type=int,
            default=2000,
            help="Audit log entries to add (default: 2000).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="Rows per bulk insert and per transaction (default: 5000).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=tuple(connections),
            help='Database alias to seed (default: "default").',
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="Random seed, for reproducible data (default: a fresh one each run).",
        )
        parser.add_argument(
            "--clear",
            action="store_true",
            help="First delete all demo rows (staff and superusers are kept).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        using: str = options["database"]
        counts = {name: options[name] for name in ("users", "projects", "tasks", "audit_logs")}
        for name, value in counts.items():
            if value is not None and value < 0:
                option = "--" + name.replace("_", "-")
                raise CommandError(f"{option} must be zero or more, not {value}.")
        if options["batch_size"] < 1:
            raise CommandError(f"--batch-size must be at least 1, not {options['batch_size']}.")

        started = time.perf_counter()
        if options["clear"]:
            cleared = seeding.clear_demo_data(using)
            if self.verbosity >= 1:
                self.stdout.write(
                    f"Deleted {cleared.users} users, {cleared.projects} projects, "
                    f"{cleared.tasks} tasks, {cleared.audit_logs} audit log entries."
                )
        try:
            added = seeding.seed(
                users=options["users"],
                projects=options["projects"],
                tasks=options["tasks"],
                audit_logs=options["audit_logs"],
                batch_size=options["batch_size"],
                using=using,
                random_seed=options["seed"],
                progress=self._progress,
            )
        except seeding.SeedError as e:
            raise CommandError(str(e)) from e
        elapsed = time.perf_counter() - started
        if self.verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Added {added.users} users, {added.projects} projects, {added.tasks} "
                    f"tasks, {added.audit_logs} audit log entries to {using!r} "
                    f"in {elapsed:.1f}s."
                )
            )
            if added.users:
                self.stdout.write(f"Seeded users log in with password {seeding.SEED_PASSWORD!r}.")

    def _progress(self, label: str, done: int, total: int) -> None:
        if self.verbosity < 1 or total == 0:
            return
        if done == 0:
            self._phase_started = time.perf_counter()
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + " " * (BAR_WIDTH - filled)
        self.stdout.write(f"\r[{bar}] {100 * done // total:3d}% {label} {done}/{total}", ending="")
        if done == total:
            suffix = ""
            if self.verbosity >= 2:
                suffix = f" ({time.perf_counter() - self._phase_started:.1f}s)"
            self.stdout.write(suffix)
        self.stdout.flush()
