"""Built-in workloads on the scratch tables: CRUD, complex queries, transactions.

A workload is an operation run again and again by the load generator (``load.py``);
each call does one unit of work and returns a label naming what it did, so latencies
are reported per kind of operation as well. The cache and replica workloads are in
``cache_workloads.py`` and ``replica_workloads.py``; a project's own workloads (a
function, a queryset, a URL) in ``user_workloads.py``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, F, Max, Sum

from django_dbopt.benchmark.load import Operation, Worker
from django_dbopt.benchmark.models import ScratchAuthor, ScratchItem
from django_dbopt.benchmark.scratch import STATUSES, ScratchSet


@dataclass
class Workload:
    name: str
    description: str
    op: Operation
    setup: Callable[[Worker], None] | None = None
    #: settings in force while it runs (e.g. ORM caching of the scratch tables)
    context: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext
    #: what identifies it for history comparisons (beyond its name)
    spec: dict[str, Any] = field(default_factory=dict)
    #: counters read before and after the run; their deltas go in the report
    counters: Callable[[], dict[str, int]] | None = None


def _rng(worker: Worker) -> random.Random:
    rng: random.Random | None = worker.data.get("rng")
    if rng is None:
        rng = worker.data["rng"] = random.Random(1000 + worker.index)  # noqa: S311 (load mix)
    return rng


@contextlib.contextmanager
def in_scope(name: str) -> Iterator[None]:
    """Run the block as one request would: its queries attributed to ``benchmark:<name>``
    in the query monitor, and one routing scope (a read after a write in the block goes
    to the primary, as with ``ReadYourWritesMiddleware``)."""
    from django_dbopt import monitor
    from django_dbopt.routing import routing_scope

    with monitor.scope(f"benchmark:{name}"), routing_scope():
        yield


def crud(scratch: ScratchSet) -> Workload:
    """Create, read by pk, filtered list, update and delete, in the ratio 1:4:2:2:1."""
    alias, pks = scratch.alias, scratch.item_pks
    authors = scratch.author_pks
    kinds = ("create",) + ("read",) * 4 + ("list",) * 2 + ("update",) * 2 + ("delete",)

    def op(worker: Worker) -> str:
        rng = _rng(worker)
        kind = rng.choice(kinds)
        mine: list[int] = worker.data.setdefault("created", [])
        with in_scope("crud"):
            if kind == "create" or (kind == "delete" and not mine):
                item = ScratchItem.objects.using(alias).create(
                    author_id=rng.choice(authors),
                    title="bench",
                    status=rng.choice(STATUSES),
                    score=rng.randrange(1000),
                )
                mine.append(item.pk)
                return "create"
            if kind == "read":
                ScratchItem.objects.get(pk=rng.choice(pks))
            elif kind == "list":
                list(
                    ScratchItem.objects.filter(
                        status=rng.choice(STATUSES), score__gte=rng.randrange(900)
                    ).order_by("-score")[:20]
                )
            elif kind == "update":
                ScratchItem.objects.using(alias).filter(pk=rng.choice(pks)).update(
                    counter=F("counter") + 1
                )
            else:
                ScratchItem.objects.using(alias).filter(pk=mine.pop()).delete()
        return kind

    return Workload("crud", "create / read by pk / filtered list / update / delete", op)


def complex_queries(scratch: ScratchSet) -> Workload:
    """Joins and aggregates: per-author counts and averages, a select_related list,
    a group-by over statuses."""
    names = [f"author {n:04d}"[:-1] for n in range(0, scratch.authors, 10)]

    def op(worker: Worker) -> str:
        rng = _rng(worker)
        kind = rng.choice(("aggregate", "join", "group"))
        with in_scope("complex"):
            if kind == "aggregate":
                list(
                    ScratchAuthor.objects.annotate(
                        n=Count("items"), avg=Avg("items__score"), top=Max("items__score")
                    ).order_by("-n", "pk")[:10]
                )
            elif kind == "join":
                list(
                    ScratchItem.objects.select_related("author")
                    .filter(author__name__startswith=rng.choice(names), status="todo")
                    .order_by("-score")[:20]
                )
            else:
                list(
                    ScratchItem.objects.values("status")
                    .annotate(total=Sum("score"), n=Count("id"))
                    .order_by("status")
                )
        return kind

    return Workload("complex", "joins and aggregates", op)


def transactions(scratch: ScratchSet, hot_authors: int = 4) -> Workload:
    """A multi-statement ``atomic()`` block on a few hot rows every thread wants: bump two
    authors (one statement each, in pk order, so no deadlock), then read and update one
    of their items. Writing first makes SQLite take its write lock at the start (a read
    first would make it fail at once with "database is locked" instead of waiting)."""
    alias = scratch.alias
    hot = scratch.author_pks[: max(2, hot_authors)]

    def op(worker: Worker) -> str:
        rng = _rng(worker)
        pair = sorted(rng.sample(hot, 2))
        authors = ScratchAuthor.objects.using(alias)
        items = ScratchItem.objects.using(alias)
        with in_scope("transactions"), transaction.atomic(using=alias):
            for pk in pair:
                authors.filter(pk=pk).update(counter=F("counter") + 1)
            item = items.filter(author_id=pair[0]).order_by("pk").first()
            if item is not None:
                items.filter(pk=item.pk).update(
                    counter=F("counter") + 1, score=rng.randrange(1000)
                )
        return "transaction"

    return Workload(
        "transactions",
        f"atomic() blocks contending for {len(hot)} hot rows",
        op,
        spec={"hot_rows": len(hot)},
    )
