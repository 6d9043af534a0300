"""The scratch table set the built-in workloads run on.

``scratch_tables(alias)`` creates ``dbopt_bench_author`` and ``dbopt_bench_item``
(dropping leftovers of an interrupted run first), seeds them, invalidates them in the
ORM cache, waits until every replica of ``alias`` has replayed them, and drops them when
the block ends. A project's own
tables are never read or written by the built-in workloads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import caches
from django.db import DatabaseError, connections, transaction

from django_dbopt.benchmark.models import ScratchAuthor, ScratchItem
from django_dbopt.exceptions import DbOptError

STATUSES = ("todo", "doing", "done", "blocked")
MODELS = (ScratchAuthor, ScratchItem)
TABLES = tuple(m._meta.db_table for m in MODELS)


class BenchmarkError(DbOptError):
    """A benchmark could not be set up or run."""


@dataclass(frozen=True)
class ScratchSet:
    alias: str
    authors: int
    items: int
    #: primary keys of the seeded rows (reads and updates use these)
    author_pks: tuple[int, ...]
    item_pks: tuple[int, ...]


def _drop(alias: str) -> None:
    conn = connections[alias]
    existing = set(conn.introspection.table_names())
    with conn.schema_editor() as editor:
        for model in reversed(MODELS):
            if model._meta.db_table in existing:
                editor.delete_model(model)


def _create(alias: str) -> None:
    with connections[alias].schema_editor() as editor:
        for model in MODELS:
            editor.create_model(model)


def seed(alias: str, authors: int, items: int, seed_value: int = 13) -> ScratchSet:
    rng = random.Random(seed_value)  # noqa: S311 (test data)
    with transaction.atomic(using=alias):
        made = ScratchAuthor.objects.using(alias).bulk_create(
            ScratchAuthor(name=f"author {n:04d}") for n in range(authors)
        )
        author_pks = tuple(a.pk for a in made)
        rows = ScratchItem.objects.using(alias).bulk_create(
            (
                ScratchItem(
                    author_id=author_pks[n % authors],
                    title=f"item {n:06d}",
                    status=STATUSES[n % len(STATUSES)],
                    score=rng.randrange(1000),
                )
                for n in range(items)
            ),
            batch_size=500,
        )
    return ScratchSet(alias, authors, items, author_pks, tuple(r.pk for r in rows))


def forget_cached() -> None:
    """Bump the scratch tables' generations in the ORM cache, when there is one.

    Creating or dropping a table bumps no generation, and a new scratch set has the same
    primary keys as the last one: without this, rows cached from an earlier run's tables
    (kept in Redis) would be served for the new ones."""
    if importlib.util.find_spec("redis") is None:
        return
    from django_dbopt.cache.backend import TwoTierCache
    from django_dbopt.conf import get_config

    if not isinstance(caches[get_config().cache.cache], TwoTierCache):
        return
    from django_dbopt.benchmark.toggles import orm_cache
    from django_dbopt.cache import invalidate_tables

    with orm_cache():
        if not invalidate_tables(TABLES):
            raise BenchmarkError("could not invalidate the scratch tables in the cache")


def replicas_of(alias: str) -> list[str]:
    from django_dbopt.conf import get_config

    return list(get_config().routing.replicas.get(alias, {}))


def wait_for_replicas(alias: str, timeout_s: float = 30.0) -> None:
    """Block until every configured replica of ``alias`` sees the seeded item table."""
    table = ScratchItem._meta.db_table
    for replica in replicas_of(alias):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with connections[replica].cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (our table)
                    (count,) = cursor.fetchone()
                if count > 0:
                    break
            except DatabaseError:
                connections[replica].close()  # table not replayed yet: a fresh try
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"replica {replica!r} did not replay the scratch tables in {timeout_s:.0f}s"
                )
            time.sleep(0.05)  # polling the replica's replay, with a deadline
        connections[replica].close()


@contextlib.contextmanager
def scratch_tables(
    alias: str = "default", authors: int = 50, items: int = 2000, keep: bool = False
) -> Iterator[ScratchSet]:
    try:
        _drop(alias)
        _create(alias)
        scratch = seed(alias, authors, items)
        forget_cached()
    except DatabaseError as e:
        raise BenchmarkError(f"could not create the scratch tables on {alias!r}: {e}") from e
    try:
        wait_for_replicas(alias)
        yield scratch
    finally:
        if not keep:
            for conn in connections.all(initialized_only=True):
                if conn.alias != alias:
                    conn.close()
            try:
                _drop(alias)
            except DatabaseError as e:
                raise BenchmarkError(f"could not drop the scratch tables: {e}") from e
            forget_cached()
