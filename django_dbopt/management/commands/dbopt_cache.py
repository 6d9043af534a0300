"""``manage.py dbopt_cache stats|invalidate|clear|warm``: the two-tier cache's controls."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


def _two_tier_aliases() -> tuple[str, ...]:
    from django.conf import settings

    configured: dict[str, Any] = settings.CACHES
    return tuple(
        alias
        for alias, config in configured.items()
        if config.get("BACKEND") == "django_dbopt.cache.TwoTierCache"
    )


class Command(BaseCommand):
    help = "Show the two-tier cache's stats, invalidate tables or tags, clear it, warm it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=("stats", "invalidate", "clear", "warm"),
            help="stats: measured counters; invalidate: bump tables/tags; clear: empty "
            "both tiers; warm: run DBOPT['CACHE']['WARM'] callables.",
        )
        parser.add_argument(
            "--cache",
            choices=_two_tier_aliases() or None,
            help="TwoTierCache alias (default: DBOPT['CACHE']['CACHE']).",
        )
        parser.add_argument(
            "--database",
            default="default",
            choices=tuple(connections),
            help="Database alias the warming callables read (warm only).",
        )
        parser.add_argument(
            "--table", action="append", default=[], help="Table to invalidate (repeatable)."
        )
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            help="Model (app_label.ModelName) whose table to invalidate (repeatable).",
        )
        parser.add_argument(
            "--tag", action="append", default=[], help="Tag to invalidate (repeatable)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what invalidate/clear would do without doing it.",
        )
        parser.add_argument(
            "--format", choices=("text", "json"), default="text", help="Output format."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:  # the cache's L2 needs redis: a site without the extra gets words, not a traceback
            from django_dbopt.cache import operations
            from django_dbopt.cache.report import stats
        except ModuleNotFoundError as e:
            raise CommandError(
                f"dbopt_cache needs {e.name}, which is not installed: "
                "pip install 'django-dbopt[redis]'",
                returncode=2,
            ) from e
        action = options["action"]
        alias = options["cache"]
        try:
            if action == "stats":
                result: Any = stats(alias)
            elif action == "invalidate":
                tables = [*options["table"], *operations.tables_of_models(options["model"])]
                if not tables and not options["tag"]:
                    raise CommandError("invalidate needs --table, --model or --tag", returncode=2)
                result = operations.invalidate(
                    alias, tables, options["tag"], dry_run=options["dry_run"]
                )
            elif action == "clear":
                result = operations.clear(alias, dry_run=options["dry_run"])
                if result["cleared"] and result["l2"] is False:
                    raise CommandError(
                        f"Redis behind cache {result['alias']!r} was unreachable: only this "
                        "process's L1 was cleared; L2 and the other processes' L1 were not.",
                        returncode=1,
                    )
            else:
                result = [vars(w) for w in operations.warm(options["database"])]
        except (operations.OperationError, ImproperlyConfigured) as e:
            raise CommandError(str(e), returncode=2) from e
        if options["format"] == "json":
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        getattr(self, f"_text_{action}")(result, options["verbosity"])

    def _text_stats(self, result: dict[str, Any], verbosity: int) -> None:
        l1 = result["l1"]
        self.stdout.write(self.style.MIGRATE_HEADING(f"Cache {result['alias']!r}"))
        self.stdout.write(f"  Redis: {result['redis']}")
        self.stdout.write(
            f"  L1 (this process): {l1['bytes']} / {l1['max_bytes']} bytes, "
            f"{l1['entries']} entries, {l1['evictions']} evictions"
        )
        scope = result["all_processes"] or result["process"]
        where = "all processes" if result["all_processes"] else "this process (Redis down)"
        self.stdout.write(self.style.MIGRATE_HEADING(f"Tiers ({where})"))
        if not scope["tiers"]:
            self.stdout.write("  no data")
        for tier, row in scope["tiers"].items():
            ratio = "no data" if row["hit_ratio"] is None else f"{row['hit_ratio']:.1%}"
            self.stdout.write(
                f"  {tier}: {row['hits']} hits, {row['misses']} misses, hit ratio {ratio}, "
                f"{row['bytes_read']} bytes read, {row['bytes_written']} bytes written, "
                f"{row['errors']} errors"
            )
        self.stdout.write(self.style.MIGRATE_HEADING("Tables"))
        if not scope["tables"]:
            self.stdout.write("  no data")
        for table, row in scope["tables"].items():
            ratio = "no data" if row["hit_ratio"] is None else f"{row['hit_ratio']:.1%}"
            self.stdout.write(
                f"  {table}: {row['hits']} hits, {row['misses']} misses, hit ratio {ratio}, "
                f"{row['invalidations']} invalidations, {row['bytes_served']} bytes served"
            )

    def _text_invalidate(self, result: dict[str, Any], verbosity: int) -> None:
        what = ", ".join([*result["tables"], *(f"tag {t}" for t in result["tags"])])
        if result["dry_run"]:
            self.stdout.write(f"Would invalidate: {what}")
        elif result["written"]:
            self.stdout.write(self.style.SUCCESS(f"Invalidated: {what}"))
        else:
            raise CommandError(
                "Redis is unavailable: the invalidation is pending in this process only",
                returncode=1,
            )

    def _text_clear(self, result: dict[str, Any], verbosity: int) -> None:
        if result["dry_run"]:
            what = "L1 only: no L2" if result["l2"] is None else "L2 database and every L1"
            self.stdout.write(f"Would clear cache {result['alias']!r} ({what})")
        elif result["l2"] is None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Cleared cache {result['alias']!r}: L1 only (L1-only mode, no L2); "
                    "other processes keep their own L1"
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Cleared cache {result['alias']!r} (L2 and every L1)")
            )

    def _text_warm(self, result: list[dict[str, Any]], verbosity: int) -> None:
        if not result:
            self.stdout.write("Nothing to warm: DBOPT['CACHE']['WARM'] is empty")
        for row in result:
            if row["error"]:
                self.stderr.write(f"{row['path']}: failed: {row['error']}")
            elif verbosity >= 1:
                self.stdout.write(f"{row['path']}: {row['seconds'] * 1000:.1f} ms")
        if any(row["error"] for row in result):
            raise CommandError("some warming callables failed", returncode=1)
