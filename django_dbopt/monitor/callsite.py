"""Where a query came from: the first in-app frame, a short stack, and the ORM relation.

Frames are walked with ``sys._getframe`` (no ``traceback``/``inspect`` formatting, no
source reading). A file is "in-app" unless it belongs to the standard library,
site-packages, Django, asgiref or django-dbopt itself. These functions are never called
for every query: only for slow queries and for a few samples per repeated fingerprint
(see ``scope.py``).
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from types import FrameType
from typing import Any

import django

import django_dbopt

CallSite = tuple[str, int, str]  # (file, line, function)

_LIBRARY_DIRS = tuple(
    {
        os.path.realpath(p) + os.sep
        for p in (
            sysconfig.get_paths()["stdlib"],
            sysconfig.get_paths()["platstdlib"],
            sysconfig.get_paths()["purelib"],
            sysconfig.get_paths()["platlib"],
            os.path.dirname(django.__file__),
            os.path.dirname(django_dbopt.__file__),
        )
    }
)


@functools.lru_cache(maxsize=4096)
def _app_file(filename: str) -> str | None:
    """``filename`` shortened to a path relative to ``sys.path``, or None if not in-app."""
    if filename.startswith("<"):
        return None
    real = os.path.realpath(filename)
    if real.startswith(_LIBRARY_DIRS) or "site-packages" in real:
        return None
    best = real
    for entry in sys.path:
        root = os.path.realpath(entry or os.getcwd()) + os.sep
        if real.startswith(root) and len(real) - len(root) < len(best):
            best = real[len(root) :]
    return best


def call_site(depth: int = 1) -> CallSite | None:
    """The innermost in-app frame above the caller, or None."""
    frame: FrameType | None = sys._getframe(depth + 1)
    while frame is not None:
        code = frame.f_code
        path = _app_file(code.co_filename)
        if path is not None:
            return (path, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None


def format_site(site: CallSite | None) -> str:
    return f"{site[0]}:{site[1]} in {site[2]}" if site else "(unknown)"


def app_stack(depth: int = 1, limit: int = 12) -> list[str]:
    """The in-app frames above the caller, innermost first, formatted."""
    out: list[str] = []
    frame: FrameType | None = sys._getframe(depth + 1)
    while frame is not None and len(out) < limit:
        path = _app_file(frame.f_code.co_filename)
        if path is not None:
            out.append(format_site((path, frame.f_lineno, frame.f_code.co_name)))
        frame = frame.f_back
    return out


def relation_hint(depth: int = 1) -> str | None:
    """``select_related``/``prefetch_related`` advice when the query is an ORM relation
    being loaded lazily (read from the relation descriptor or related manager on the
    stack), else None."""
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseOneToOneDescriptor,
    )
    from django.db.models.query import QuerySet

    frame: FrameType | None = sys._getframe(depth + 1)
    while frame is not None:
        owner: Any = frame.f_locals.get("self")
        if isinstance(owner, ForwardManyToOneDescriptor):
            field = owner.field
            return f"{field.model._meta.label}: use select_related({field.name!r})"
        if isinstance(owner, ReverseOneToOneDescriptor):
            related = owner.related
            return (
                f"{related.model._meta.label}: use select_related({related.get_accessor_name()!r})"
            )
        if isinstance(owner, QuerySet):
            hint = _manager_hint(owner)
            if hint:
                return hint
        frame = frame.f_back
    return None


def _manager_hint(queryset: Any) -> str | None:
    for field in getattr(queryset, "_known_related_objects", {}):
        remote = field.remote_field
        return f"{remote.model._meta.label}: use prefetch_related({remote.get_accessor_name()!r})"
    instance = getattr(queryset, "_hints", {}).get("instance")
    if instance is None:
        return None
    names = [
        f.name
        for f in type(instance)._meta.get_fields()
        if f.many_to_many and f.related_model is queryset.model
    ]
    if len(names) == 1:
        label = type(instance)._meta.label
        name = names[0] if hasattr(type(instance), names[0]) else None
        if name:
            return f"{label}: use prefetch_related({name!r})"
    return None
