"""Which database aliases form one cluster: a primary and its streaming replicas.

Read from ``DBOPT['ROUTING']['REPLICAS']`` (``{primary: {replica: weight}}``) at call
time. The router routes within a cluster; the cache keys query results by cluster so a
primary and its replicas share entries.

These run on the per-query path, so a broken ``DBOPT`` (reported by the system checks,
E001-E007) never makes them raise: every alias is then its own primary with no replicas,
which sends every query to the alias Django would use without django-dbopt.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured

from django_dbopt.conf import get_config

logger = logging.getLogger("django_dbopt")

_reported: set[str] = set()


def replica_map() -> dict[str, dict[str, float]]:
    """``{primary: {replica: weight}}``, or ``{}`` while ``DBOPT`` is broken."""
    try:
        return get_config().routing.replicas
    except ImproperlyConfigured as e:
        if str(e) not in _reported:  # once per distinct problem, not per query
            _reported.add(str(e))
            logger.error("replica routing off until DBOPT is fixed: %s", e)
        return {}


def replicas_of(primary: str) -> dict[str, float]:
    """The replicas of ``primary`` with their configured weights (empty if none)."""
    return dict(replica_map().get(primary, {}))


def primary_of(alias: str) -> str:
    """The primary alias of ``alias``'s cluster (``alias`` itself when it is a primary)."""
    for primary, replicas in replica_map().items():
        if alias in replicas:
            return primary
    return alias


def is_primary(alias: str) -> bool:
    return primary_of(alias) == alias
