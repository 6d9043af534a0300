"""Replica routing: lag-aware reads, failover and failback, read-your-writes.

Public names (see docs/routing.md):

- ``ReplicaRouter``: put ``"django_dbopt.routing.ReplicaRouter"`` in ``DATABASE_ROUTERS``;
- ``ReadYourWritesMiddleware``: ``"django_dbopt.routing.ReadYourWritesMiddleware"``;
- ``use_primary()`` / ``use_replica(max_lag=...)``: context managers and decorators;
- ``routing_scope()``: one scope (pinned replica, own writes) outside requests and tasks;
- ``status()``: replica states and routing counters as dataclasses.
"""

from __future__ import annotations

from django_dbopt.routing.control import use_primary, use_replica
from django_dbopt.routing.middleware import ReadYourWritesMiddleware
from django_dbopt.routing.router import ReplicaRouter
from django_dbopt.routing.scope import routing_scope
from django_dbopt.routing.status import PrimaryStatus, ReplicaStatus, RoutingStatus, status

__all__ = [
    "PrimaryStatus",
    "ReadYourWritesMiddleware",
    "ReplicaRouter",
    "ReplicaStatus",
    "RoutingStatus",
    "routing_scope",
    "status",
    "use_primary",
    "use_replica",
]
