"""``manage.py dbopt_benchmark``: measure the project's database layer (docs/benchmark.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from django_dbopt.benchmark.ab import PARTS
from django_dbopt.benchmark.presets import PRESETS
from django_dbopt.benchmark.runner import BUILTIN, Options, run_benchmark
from django_dbopt.benchmark.scratch import BenchmarkError
from django_dbopt.benchmark.text import render
from django_dbopt.conf import get_config

#: exit status of ``--fail-on-regression`` when a regression was flagged
REGRESSION_EXIT = 3


def _names(value: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise CommandError(
            f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return names


class Command(BaseCommand):
    help = "Benchmark the database layer: workloads, percentiles, A/B of each part, grades."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="the primary alias to benchmark (scratch tables go there)",
        )
        parser.add_argument(
            "--preset",
            default="light",
            choices=tuple(PRESETS),
            help="load preset: concurrency, duration, trials (default light)",
        )
        parser.add_argument(
            "--workloads",
            default=",".join(BUILTIN),
            help=f"built-in workloads, comma-separated ({', '.join(BUILTIN)}); "
            "'none' for only your own",
        )
        parser.add_argument(
            "--function",
            action="append",
            default=[],
            metavar="DOTTED.PATH",
            help="add a workload: call this function (repeatable)",
        )
        parser.add_argument(
            "--queryset",
            action="append",
            default=[],
            metavar="EXPR",
            help="add a workload: evaluate this queryset, e.g. "
            "\"M('shop.Order').objects.filter(paid=True)[:20]\" (repeatable)",
        )
        parser.add_argument(
            "--url",
            action="append",
            default=[],
            metavar="PATH",
            help="add a workload: GET this path through the test client",
        )
        parser.add_argument(
            "--mode",
            choices=("closed", "open"),
            default="closed",
            help="closed loop (concurrency N) or open loop (fixed rate)",
        )
        parser.add_argument("--concurrency", type=int, help="threads (overrides the preset)")
        parser.add_argument("--rate", type=float, help="open loop: operations per second")
        parser.add_argument("--duration", type=float, help="seconds measured per workload")
        parser.add_argument("--warmup", type=float, help="seconds of warm-up per workload")
        parser.add_argument("--trials", type=int, help="windows compared for regressions")
        parser.add_argument("--no-ab", action="store_true", help="skip the A/B of the parts")
        parser.add_argument(
            "--ab-parts",
            default=",".join(PARTS),
            help=f"parts to A/B, comma-separated ({', '.join(PARTS)})",
        )
        parser.add_argument("--ab-rounds", type=int, help="interleaved A/B rounds")
        parser.add_argument(
            "--compare",
            type=int,
            metavar="RUN",
            help="compare with this stored run instead of recent history",
        )
        parser.add_argument(
            "--fail-on-regression",
            action="store_true",
            help=f"exit with status {REGRESSION_EXIT} when a regression is found",
        )
        parser.add_argument("--no-store", action="store_true", help="do not store this run")
        parser.add_argument("--label", default="", help="a label stored with the run")
        parser.add_argument(
            "--keep-tables",
            action="store_true",
            help="leave the scratch tables in place after the run",
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text report (default) or JSON (schema: docs/benchmark.md)",
        )

    def _options(self, opts: dict[str, Any]) -> Options:
        for name in ("concurrency", "trials", "ab_rounds"):
            if opts[name] is not None and opts[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("duration", "rate"):
            if opts[name] is not None and opts[name] <= 0:
                raise CommandError(f"--{name} must be positive")
        if opts["warmup"] is not None and opts["warmup"] < 0:
            raise CommandError("--warmup must not be negative")
        chosen = "" if opts["workloads"] == "none" else opts["workloads"]
        user = [f"function:{v}" for v in opts["function"]]
        user += [f"queryset:{v}" for v in opts["queryset"]] + [f"url:{v}" for v in opts["url"]]
        return Options(
            alias=opts["database"],
            preset=opts["preset"],
            workloads=_names(chosen, BUILTIN, "workload"),
            user=[*get_config().benchmark.workloads, *user],
            mode=opts["mode"],
            concurrency=opts["concurrency"],
            duration_s=opts["duration"],
            warmup_s=opts["warmup"],
            rate=opts["rate"],
            trials=opts["trials"],
            ab=not opts["no_ab"],
            ab_parts=_names(opts["ab_parts"], PARTS, "A/B part"),
            ab_rounds=opts["ab_rounds"],
            compare=opts["compare"],
            store=False if opts["no_store"] else None,
            label=opts["label"],
            keep_tables=opts["keep_tables"],
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        options = self._options(opts)
        as_json = opts["format"] == "json"
        out = self.stderr if as_json else self.stdout
        bar = _ProgressBar(out, enabled=opts["verbosity"] >= 1)
        try:
            report = run_benchmark(options, bar)
        except BenchmarkError as e:
            raise CommandError(str(e)) from e
        bar.finish()
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.stdout.write(render(report))
        if opts["fail_on_regression"] and report["regressions"]:
            raise CommandError(
                f"{report['regressions']} workload(s) regressed", returncode=REGRESSION_EXIT
            )


class _ProgressBar:
    """One line per step; a bar redrawn in place on a terminal."""

    WIDTH = 24

    def __init__(self, out: Any, enabled: bool) -> None:
        self.out, self.enabled = out, enabled
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.open = False

    def __call__(self, message: str, fraction: float | None) -> None:
        if not self.enabled:
            return
        if fraction is None:
            self.finish()
            self.out.write(message)
            return
        if self.tty:
            filled = round(fraction * self.WIDTH)
            self.out.write(
                f"\r  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {message}   ", ending=""
            )
            self.out.flush()
            self.open = True

    def finish(self) -> None:
        if self.open:
            self.out.write("")
            self.open = False
