"""The replica workload: reads routed to replicas, and read-your-writes.

- ``replica-read``: a filtered list outside any routing scope (the router sends it to a
  healthy replica);
- ``ryw``: in one routing scope, write a new value to this thread's own row; hand the
  scope's WAL position to a second scope (what the signed cookie does between two
  requests) and read the row there. A read that does not see the value written is an
  error (``read-your-writes violated``), so a violation shows in the error count.

Which server served each read is in the report's fingerprints (per alias).
"""

from __future__ import annotations

from django.db import router as django_router
from django.db.models import F

from django_dbopt.benchmark.load import Worker
from django_dbopt.benchmark.models import ScratchItem
from django_dbopt.benchmark.scratch import STATUSES, BenchmarkError, ScratchSet, replicas_of
from django_dbopt.benchmark.workloads import Workload, _rng, in_scope

KINDS = ("replica-read",) * 4 + ("ryw",)


def unavailable(alias: str) -> str | None:
    from django_dbopt.routing import ReplicaRouter

    if not replicas_of(alias):
        return f"no replica configured for {alias!r} (DBOPT['ROUTING']['REPLICAS'])"
    if not any(isinstance(r, ReplicaRouter) for r in django_router.routers):
        return "django_dbopt.routing.ReplicaRouter is not in DATABASE_ROUTERS"
    return None


def _read_your_write(alias: str, pk: int, worker: Worker) -> None:
    from django_dbopt.routing import routing_scope
    from django_dbopt.routing.scope import Scope
    from django_dbopt.routing.writes import flush_positions

    value = worker.data["value"] = worker.data.get("value", 0) + 1
    with routing_scope() as writer:
        ScratchItem.objects.filter(pk=pk).update(counter=value, score=F("score"))
        flush_positions(writer)
        positions = writer.outgoing()
    reader = Scope()
    for primary, position in positions.items():
        reader.require(primary, position)
    with routing_scope(reader):
        seen = ScratchItem.objects.filter(pk=pk).values_list("counter", flat=True).get()
    if seen != value:
        raise BenchmarkError(f"read-your-writes violated: wrote {value}, read {seen}")


def replica_workload(scratch: ScratchSet) -> Workload:
    from django_dbopt.routing import status

    status(refresh=True)  # probe now, so replicas are in rotation from the first read
    alias, pks = scratch.alias, scratch.item_pks

    def setup(worker: Worker) -> None:
        pk = pks[-1 - worker.index]
        ScratchItem.objects.using(alias).filter(pk=pk).update(counter=0)

    def op(worker: Worker) -> str:
        rng = _rng(worker)
        kind = rng.choice(KINDS)
        with in_scope("replica"):
            if kind == "replica-read":
                list(ScratchItem.objects.filter(status=rng.choice(STATUSES))[:20])
            else:
                _read_your_write(alias, pks[-1 - worker.index], worker)
        return kind

    return Workload(
        "replica",
        "reads routed to replicas; read-your-writes across two scopes",
        op,
        setup=setup,
        spec={"replicas": len(replicas_of(alias))},
    )
