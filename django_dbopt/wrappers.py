"""Installing django-dbopt's execute wrappers on a connection (from ``connection_created``).

Each part (monitor, router, cache) puts its wrapper *first* in
``connection.execute_wrappers``, making it outermost: the connection may be opened inside
someone's ``with connection.execute_wrapper(...)`` block, whose exit pops the *last*
wrapper; appending would get ours popped and leave theirs installed for good.
``connection_created`` fires on every reconnect of the same wrapper object, so each part
is installed once per connection object, recognised by its ``part`` name.

A part that cannot be active (the router without replicas, the cache without tracked
models) installs nothing, so it costs no query anything; when a settings change turns it
on (``override_settings``), ``install_on_open`` adds it to this thread's connections that
are already open, and ``connection_created`` to every later one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

ExecuteWrapper = Callable[[Callable[..., Any], str, Any, bool, dict[str, Any]], Any]

_PART = "_dbopt_part"


def install_first(connection: BaseDatabaseWrapper, part: str, wrapper: ExecuteWrapper) -> None:
    """Put ``wrapper`` in front of ``connection``'s execute wrappers, once per ``part``."""
    if any(getattr(w, _PART, None) == part for w in connection.execute_wrappers):
        return
    setattr(wrapper, _PART, part)
    connection.execute_wrappers.insert(0, wrapper)


def install_on_open(install: Callable[..., None]) -> None:
    """Run a part's ``connection_created`` receiver on this thread's existing connections
    (after a settings change turned the part on; idempotent per part)."""
    for connection in connections.all(initialized_only=True):
        install(sender=type(connection), connection=connection)
