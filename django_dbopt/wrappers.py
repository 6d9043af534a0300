"""Installing django-dbopt's execute wrappers on a connection (from ``connection_created``).

Each part (monitor, router, cache) puts its wrapper *first* in
``connection.execute_wrappers``, making it outermost: the connection may be opened inside
someone's ``with connection.execute_wrapper(...)`` block, whose exit pops the *last*
wrapper; appending would get ours popped and leave theirs installed for good.
``connection_created`` fires on every reconnect of the same wrapper object, so each part
is installed once per connection object, recognised by its ``part`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

ExecuteWrapper = Callable[[Callable[..., Any], str, Any, bool, dict[str, Any]], Any]

_PART = "_dbopt_part"


def install_first(connection: BaseDatabaseWrapper, part: str, wrapper: ExecuteWrapper) -> None:
    """Put ``wrapper`` in front of ``connection``'s execute wrappers, once per ``part``."""
    if any(getattr(w, _PART, None) == part for w in connection.execute_wrappers):
        return
    setattr(wrapper, _PART, part)
    connection.execute_wrappers.insert(0, wrapper)
