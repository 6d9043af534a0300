"""Public signals. Receivers get keyword arguments only; ``sender`` is documented per signal.

- ``slow_query``: a query took longer than ``DBOPT['MONITOR']['SLOW_QUERY_MS']``.
  kwargs: ``alias``, ``fingerprint``, ``sql``, ``duration_ms``, ``view``, ``call_site``.
- ``nplusone_detected``: the same query shape ran repeatedly from one call site in one scope.
  kwargs: ``alias``, ``fingerprint``, ``count``, ``total_ms``, ``view``, ``call_site``, ``hint``.
- ``replica_state_changed``: a replica entered or left rotation.
  kwargs: ``primary``, ``replica``, ``old_state``, ``new_state``, ``reason``.
- ``connection_leaked``: a pooled connection was held past ``DBOPT['POOL']['LEAK_THRESHOLD_S']``
  outside a transaction, or was still held by another thread when its request finished.
  Sent once per checkout. kwargs: ``alias``, ``kind`` (``"held_too_long"`` or
  ``"request_end"``), ``held_s``, ``location`` (``"file:line in function()"``),
  ``filename``, ``lineno``, ``function``, ``thread``.
- ``backup_finished``: a backup (logical or physical) finished or failed. kwargs:
  ``backup_id`` (``None`` when it failed before getting one), ``database``, ``kind``
  (``"logical"`` or ``"physical"``), ``ok``, ``error`` (``None`` on success),
  ``manifest`` (the ``Manifest``, logical successes only).
- ``backup_verified``: a verification finished. kwargs: ``backup_id``, ``database``,
  ``ok``, ``error``, ``restore_test`` (``None`` or ``{"ok": ..., "mismatches": ...}``).
- ``backup_alert``: a backup health condition crossed its limit (sent by the scheduled
  ``check_backups`` job). kwargs: ``kind`` (``"backup_too_old"``, ``"no_verified_backup"``
  or ``"wal_archive_lag"``), ``database``, ``age_s`` (the backup's age or the WAL lag,
  ``None`` when there is none), ``limit_s``, ``message``.
- ``backup_restored``: a restore finished or was refused. kwargs: ``backup_id``,
  ``database``, ``target``, ``ok``, ``error``.
"""

from __future__ import annotations

from django.dispatch import Signal

slow_query = Signal()
nplusone_detected = Signal()
replica_state_changed = Signal()
connection_leaked = Signal()

#: an alert rule's condition held for its duration (``django_dbopt.ops.alerts``).
#: kwargs: ``alert`` (the ``Alert`` row), ``rule``, ``subject``, ``severity``, ``value``,
#: ``threshold``, ``message``, ``evidence``, ``url``.
alert_fired = Signal()
#: a firing alert's condition stopped holding. kwargs: as ``alert_fired``.
alert_resolved = Signal()
backup_finished = Signal()
backup_verified = Signal()
backup_restored = Signal()
backup_alert = Signal()
