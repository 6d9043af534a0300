"""How ``@cached`` keys a call by its arguments' values (``identity``), never by a
``repr`` two different objects could share (docs/cache.md, "Trust model")."""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import uuid
from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.manager import BaseManager


def digest(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


#: argument types whose ``repr`` is their value
_PLAIN = frozenset(
    {
        str, bytes, int, float, bool, type(None), decimal.Decimal, uuid.UUID,
        datetime.date, datetime.datetime, datetime.time, datetime.timedelta,
    }
)  # fmt: skip


def identity(value: Any) -> Any:
    """What a ``@cached`` argument is keyed by: plain values as themselves, a model
    instance by its model's label and primary key, containers item by item. Raises
    ``TypeError`` for anything whose ``repr`` is not a stable identity: two different
    objects could then share an entry (one user's data served to another)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Model):
        if value.pk is None:
            raise TypeError(
                f"@cached argument {value!r} is an unsaved {kind.__name__}: it has no "
                "primary key to be keyed by"
            )
        return ("model", value._meta.label_lower, identity(value.pk))
    if isinstance(value, (list, tuple)):
        return (kind.__name__, tuple(identity(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(identity(v)) for v in value)))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(identity(k)), identity(v)) for k, v in value.items())))
    if isinstance(value, enum.Enum):
        return ("enum", f"{kind.__module__}.{kind.__qualname__}", identity(value.value))
    if isinstance(value, (QuerySet, BaseManager)):
        raise TypeError(
            f"@cached cannot key a {kind.__name__} argument: pass the values it is built "
            "from (ids, filters) instead"
        )
    if getattr(kind, "__repr__", None) is object.__repr__ or " at 0x" in repr(value):
        raise TypeError(
            f"@cached cannot key an argument of type {kind.__module__}.{kind.__qualname__}: "
            "its repr is its memory address, not its value. Pass plain values (str, int, "
            "dates, model instances...) or give the type a __repr__ that identifies it."
        )
    return ("repr", f"{kind.__module__}.{kind.__qualname__}", repr(value))


def args_digest(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A hash of the arguments' identities. Plain positional values (the common case)
    hash their tuple's repr, which starts with "("; anything else hashes "i" + the repr
    of their identities, so the two forms never collide."""
    if not kwargs:
        for arg in args:
            if type(arg) not in _PLAIN:
                break
        else:
            return hashlib.blake2b(repr(args).encode(), digest_size=16).hexdigest()
    key = (
        tuple(identity(a) for a in args),
        tuple(sorted((k, identity(v)) for k, v in kwargs.items())),
    )
    return hashlib.blake2b(("i" + repr(key)).encode(), digest_size=16).hexdigest()
