"""The cache workload: ORM result caching and ``@cached``, hits and misses.

Runs with ORM caching turned on for the scratch tables (``toggles.orm_cache``), so it
needs a ``TwoTierCache`` as ``DBOPT['CACHE']['CACHE']``. Kinds of operation:

- ``orm-hit``: ``get(pk)`` of an author (a read-mostly table: nothing in this workload
  writes it), from a hot set: after the first read of each row, hits;
- ``orm-miss``: an update of an item, then ``get(pk)`` of it: the write bumped the item
  table's generation, so the read misses (and so does every cached read of that table
  until it is cached again: invalidation is per table);
- ``cached-hit``: a ``@cached`` function (authors by name prefix, ``tables=`` the author
  table, a tag), from a small set of arguments;
- ``cached-miss``: the same after ``invalidate_tags()`` (recomputed).

The hit ratio reported is the cache's own per-table counters (hits / hits + misses of
ORM reads of both scratch tables), taken before and after the run (warm-up included).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.cache import caches
from django.db.models import F

from django_dbopt.benchmark import toggles
from django_dbopt.benchmark.load import Worker
from django_dbopt.benchmark.models import ScratchAuthor, ScratchItem
from django_dbopt.benchmark.scratch import ScratchSet
from django_dbopt.benchmark.workloads import Workload, _rng, in_scope
from django_dbopt.conf import get_config

TAG = "dbopt-benchmark"
ITEM_TABLE = ScratchItem._meta.db_table
AUTHOR_TABLE = ScratchAuthor._meta.db_table
KINDS = ("orm-hit",) * 14 + ("orm-miss",) * 2 + ("cached-hit",) * 3 + ("cached-miss",)


def unavailable() -> str | None:
    """Why the cache workload cannot run here, or None."""
    if importlib.util.find_spec("redis") is None:
        return "needs the redis extra and a TwoTierCache"
    from django_dbopt.cache.backend import TwoTierCache

    alias = get_config().cache.cache
    if not isinstance(caches[alias], TwoTierCache):
        return f"CACHES[{alias!r}] is not a django_dbopt.cache.TwoTierCache"
    return None


def _authors_named(prefix: str) -> list[tuple[int, str]]:
    return list(ScratchAuthor.objects.filter(name__startswith=prefix).values_list("pk", "name"))


def _decorated() -> Any:
    from django_dbopt.cache import cached

    return cached(timeout=60, tags=[TAG], tables=[AUTHOR_TABLE])(_authors_named)


def table_counts() -> tuple[int, int]:
    """(hits, misses) of ORM reads of the scratch tables in this process's counters."""
    from django_dbopt.cache import stats

    tables = stats()["process"]["tables"]
    picked = [tables.get(t, {}) for t in (ITEM_TABLE, AUTHOR_TABLE)]
    return sum(int(t.get("hits", 0)) for t in picked), sum(int(t.get("misses", 0)) for t in picked)


def cache_workload(scratch: ScratchSet, hot: int = 50) -> Workload:
    from django_dbopt.cache import invalidate_tags

    alias, pks = scratch.alias, scratch.item_pks
    hot_authors = scratch.author_pks[:hot]
    prefixes = [f"author {n:04d}"[:-1] for n in range(0, min(scratch.authors, 50), 10)]
    named = _decorated()

    def op(worker: Worker) -> str:
        rng = _rng(worker)
        kind = rng.choice(KINDS)
        with in_scope("cache"):
            if kind == "orm-hit":
                ScratchAuthor.objects.get(pk=rng.choice(hot_authors))
            elif kind == "orm-miss":
                pk = rng.choice(pks)
                ScratchItem.objects.using(alias).filter(pk=pk).update(counter=F("counter") + 1)
                ScratchItem.objects.get(pk=pk)
            else:
                if kind == "cached-miss":
                    invalidate_tags(TAG)
                named(rng.choice(prefixes))
        return kind

    return Workload(
        "cache",
        "ORM cache and @cached: hits on a read-mostly table, misses after writes",
        op,
        context=toggles.orm_cache,
        spec={"hot": hot},
        counters=lambda: dict(zip(("cache_hits", "cache_misses"), table_counts(), strict=True)),
    )
