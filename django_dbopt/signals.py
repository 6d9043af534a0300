"""Public signals. Receivers get keyword arguments only; ``sender`` is documented per signal.

- ``slow_query``: a query took longer than ``DBOPT['MONITOR']['SLOW_QUERY_MS']``.
  kwargs: ``alias``, ``fingerprint``, ``sql``, ``duration_ms``, ``view``, ``call_site``.
- ``nplusone_detected``: the same query shape ran repeatedly from one call site in one scope.
  kwargs: ``alias``, ``fingerprint``, ``count``, ``total_ms``, ``view``, ``call_site``, ``hint``.
- ``replica_state_changed``: a replica entered or left rotation.
  kwargs: ``primary``, ``replica``, ``old_state``, ``new_state``, ``reason``.
"""

from __future__ import annotations

from django.dispatch import Signal

slow_query = Signal()
nplusone_detected = Signal()
replica_state_changed = Signal()
