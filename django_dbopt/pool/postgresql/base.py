"""Django's PostgreSQL backend with a managed pool.

Everything is Django's ``django.db.backends.postgresql`` backend; only the creation of
the pool differs: the same arguments Django passes (connection parameters, its
``configure`` callback, ``check`` when ``CONN_HEALTH_CHECKS``, the user's
``OPTIONS["pool"]``), made into a ``ManagedPool`` with defaults from
``DBOPT['POOL']`` (``timeout``: ``CHECKOUT_TIMEOUT_S``; the session reset unless
``RESET_SESSION`` is off or ``OPTIONS["pool"]`` gives its own ``reset``).

With ``RESET_SESSION = "dirty"`` each connection wrapper also gets the execute wrapper
that flags sessions to reset (``pool/session.py``); a named cursor made ``WITH HOLD``
(Django's ``.iterator()`` outside a transaction: it outlives the request until closed) and
``cursor.callproc()`` (run past the execute wrappers) flag their session too.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper

from django_dbopt.breaker import CircuitBreaker
from django_dbopt.conf import get_config
from django_dbopt.pool.managed import ManagedPool
from django_dbopt.pool.session import DIRTY, mark_dirty_on_execute
from django_dbopt.wrappers import install_first


def _flag_callproc(db: Any) -> None:
    """``callproc`` runs on the psycopg cursor, past the execute wrappers; a procedure may
    change anything, so its session is reset."""
    if db._dbopt_tracks_dirty and db.connection is not None:
        setattr(db.connection, DIRTY, True)


class TrackedCursorWrapper(CursorWrapper):
    def callproc(self, procname: Any, params: Any = None, kparams: Any = None) -> Any:
        _flag_callproc(self.db)
        return super().callproc(procname, params, kparams)


class TrackedCursorDebugWrapper(base.CursorDebugWrapper):
    def callproc(self, procname: Any, params: Any = None, kparams: Any = None) -> Any:
        _flag_callproc(self.db)
        return super().callproc(procname, params, kparams)


class DatabaseWrapper(base.DatabaseWrapper):
    _dbopt_tracks_dirty: bool | None = None

    def make_cursor(self, cursor: Any) -> Any:
        return TrackedCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor: Any) -> Any:
        return TrackedCursorDebugWrapper(cursor, self)

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if self._dbopt_tracks_dirty is None:  # decided once per wrapper, on its pool
            pool = self.pool
            self._dbopt_tracks_dirty = isinstance(pool, ManagedPool) and pool.reset_mode == "dirty"
            if self._dbopt_tracks_dirty:
                install_first(self, "pool", mark_dirty_on_execute)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = super().create_cursor(name)
        if name and self._dbopt_tracks_dirty and getattr(cursor, "withhold", False):
            setattr(self.connection, DIRTY, True)
        return cursor

    @property
    def pool(self) -> Any:
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        pools: dict[str, Any] = self._connection_pools  # type: ignore[attr-defined]
        if self.alias not in pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            options = {} if pool_options is True else dict(pool_options)
            config = get_config().pool
            options.setdefault("timeout", config.checkout_timeout_s)
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets its own mode later, as upstream
            health_checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            pool = ManagedPool(
                self.alias,
                kwargs=connect_kwargs,
                open=False,  # opened on first use, as upstream
                configure=self._configure_connection,  # type: ignore[attr-defined]
                check=ManagedPool.check_connection if health_checks else None,
                breaker=CircuitBreaker(config.connect_failures_to_open, config.breaker_reset_s),
                leak_threshold_s=config.leak_threshold_s,
                reset_session=config.reset_session or "never",
                resize_every=config.resize_interval_s if config.auto_resize else None,
                time_zone=self.timezone_name,
                **options,
            )
            pools.setdefault(self.alias, pool)
        return pools[self.alias]
