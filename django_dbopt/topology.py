"""Which database aliases form one cluster: a primary and its streaming replicas.

Read from ``DBOPT['ROUTING']['REPLICAS']`` (``{primary: {replica: weight}}``) at call
time. The router routes within a cluster; the cache keys query results by cluster so a
primary and its replicas share entries.
"""

from __future__ import annotations

from django_dbopt.conf import get_config


def replicas_of(primary: str) -> dict[str, float]:
    """The replicas of ``primary`` with their configured weights (empty if none)."""
    return dict(get_config().routing.replicas.get(primary, {}))


def primary_of(alias: str) -> str:
    """The primary alias of ``alias``'s cluster (``alias`` itself when it is a primary)."""
    for primary, replicas in get_config().routing.replicas.items():
        if alias in replicas:
            return primary
    return alias


def is_primary(alias: str) -> bool:
    return primary_of(alias) == alias
