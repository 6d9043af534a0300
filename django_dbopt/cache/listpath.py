"""Simple querysets keyed from their built query, before SQL compilation.

``QuerySet._fetch_all`` (where a queryset is evaluated) is wrapped (by ``patches.py``).
When the queryset is one whose SQL is fully determined by a few plain parts of its
``Query``, the key is made from those parts, and compiling (most of the cost of a cached
read) is skipped:

- the queryset yields model instances of a model without multi-table parents and
  without ``post_init`` receivers, with default columns, and no annotation, ``extra``,
  ``select_related``, ``prefetch_related``, ``only``/``defer``, ``values``, ``distinct``,
  combinator, grouping or ``select_for_update``;
- its WHERE tree holds only Django's built-in lookups (``exact``, ``in``, ``gt``,
  ``icontains``, ``isnull``, ``range``...; a custom lookup could emit ``NOW()``) of a
  plain column against plain values (numbers, strings, dates, UUIDs... or sequences of
  them), combined with AND/OR/NOT: no expressions, subqueries or transforms;
- its joins (from filters across relations) are plain foreign-key joins, no
  ``FilteredRelation``, no generic relation;
- its ordering is by local fields only (``order_by("-created_at")``; not ``"?"``, not
  across relations, not expressions), and any slicing is in the key.

The key is a hash of the model, the cluster, those parts (lookup classes, aliases,
columns, values, joins with their columns and types, ordering, limits), followed by the
generations of exactly the tables in the FROM clause. Anything this module does not
recognise sends the queryset down the normal path (the SQL-level cache of ``orm.py``).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import pickle
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import (
    ForeignKey,
    ManyToOneRel,
    OneToOneField,
    OneToOneRel,
    QuerySet,
    signals,
)
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.query import ModelIterable
from django.db.models.sql.datastructures import BaseTable, Join
from django.db.models.sql.where import WhereNode

from django_dbopt.cache import generations
from django_dbopt.cache.keyed import row_of, through_cache
from django_dbopt.cache.plans import bypass, resolve
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.tables import configured_tables
from django_dbopt.cache.writes import session_changed, uncacheable_now

_PLAIN = (
    int,
    float,
    str,
    bytes,
    decimal.Decimal,
    uuid.UUID,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    type(None),
)
_SEQUENCES = (list, tuple, set, frozenset)
_JOIN_FIELDS = (ForeignKey, OneToOneField, ManyToOneRel, OneToOneRel)
_NO_DEFERRED: tuple[frozenset[str], bool] = (frozenset(), True)
#: Django's own lookups (deterministic SQL); a custom lookup could embed NOW() & co.
_BUILTIN_LOOKUPS = frozenset(
    {"django.db.models.lookups", "django.db.models.fields.related_lookups"}
)


class _Unsafe(Exception):
    """Something the key could not capture: take the normal path."""


def _plain(value: Any) -> Any:
    if type(value) in _PLAIN or isinstance(value, _PLAIN):
        return value
    if isinstance(value, _SEQUENCES) or type(value).__name__ == "OrderedSet":
        return ("seq", tuple(_plain(v) for v in value))
    raise _Unsafe


def _where(node: Any) -> tuple[Any, ...]:
    if type(node) is WhereNode:
        return ("W", node.connector, node.negated, tuple(_where(c) for c in node.children))
    if (
        isinstance(node, Lookup)
        and type(node).__module__ in _BUILTIN_LOOKUPS
        and type(node.lhs) is Col
    ):
        kind = type(node)
        return (
            f"{kind.__module__}.{kind.__qualname__}",
            node.lhs.alias,
            node.lhs.target.column,
            _plain(node.rhs),
        )
    raise _Unsafe


def _joins(query: Any) -> tuple[tuple[Any, ...], frozenset[str]]:
    """The FROM clause as the compiler will write it: the base table always (compiling
    adds it when no filter did), joins that are still referenced."""
    base = query.model._meta.db_table
    parts: list[tuple[Any, ...]] = [("T", base)]
    tables = {base}
    for alias, entry in query.alias_map.items():
        if type(entry) is BaseTable:
            if entry.table_name != base or alias != base:
                raise _Unsafe  # an aliased or extra base table
            continue
        if not query.alias_refcount[alias]:
            continue
        if (
            type(entry) is Join
            and entry.filtered_relation is None
            and type(entry.join_field) in _JOIN_FIELDS
        ):
            parts.append(
                (
                    "J",
                    alias,
                    entry.table_name,
                    entry.parent_alias,
                    entry.join_type,
                    entry.join_cols,
                    entry.nullable,
                )
            )
        else:
            raise _Unsafe
        tables.add(entry.table_name)
    return tuple(parts), frozenset(tables)


def _ordering(qs: Any) -> tuple[Any, ...]:
    query = qs.query
    meta = qs.model._meta
    order = tuple(query.order_by) or (tuple(meta.ordering) if query.default_ordering else ())
    local = (
        {"pk"} | {f.name for f in meta.concrete_fields} | {f.attname for f in meta.concrete_fields}
    )
    for item in order:
        if not isinstance(item, str) or item.lstrip("-") not in local:
            raise _Unsafe
    return (tuple(query.order_by), query.default_ordering, query.standard_ordering)


def _simple(qs: Any) -> bool:
    query = qs.query
    model = qs.model
    return (
        qs._iterable_class is ModelIterable
        and not qs._prefetch_related_lookups
        and not qs._known_related_objects
        and qs._fields is None
        and query.model is model
        and not model._meta.parents
        and not query.annotations
        and not query.extra
        and not query.extra_tables
        and not query.extra_order_by
        and not query.select_related
        and query.default_cols
        and not query.select
        and not query.values_select
        and not query.distinct
        and not query.distinct_fields
        and not query.combinator
        and not query.select_for_update
        and query.deferred_loading == _NO_DEFERRED
        and query.group_by is None
        and not signals.post_init.has_listeners(model)
    )


def _evaluate(qs: Any) -> list[Any] | None:
    """The results through the cache, or ``None`` to take the normal path."""
    resolved = resolve()
    st = resolved.state
    if (
        st is None
        or not resolved.auto
        or qs.model._meta.db_table not in configured_tables()
        or not _simple(qs)
    ):
        return None
    query = qs.query
    try:
        where = _where(query.where)
        joins, tables = _joins(query)
        ordering = _ordering(qs)
    except _Unsafe:
        return None
    alias = qs.db
    if (
        not tables
        or not tables <= configured_tables()
        or uncacheable_now(connections[alias])
        or (st.pending and not generations.writable(st))
    ):
        return None
    raw = repr(
        (
            qs.model._meta.label_lower,
            resolved.cluster(alias),
            where,
            joins,
            ordering,
            query.low_mark,
            query.high_mark,
        )
    )
    if " at 0x" in raw:
        return None
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    result: list[Any] = through_cache(
        st,
        resolved.table_plan(tables),
        f"{st.ns}lsrow:{digest}:",
        compute=_computer(st, qs, alias),
        decode=_decoder(st, qs.model, alias),
        strict=resolved.strict,
        fills=resolved.cluster(alias) == alias,  # replicas never fill (see orm.py)
    )
    return result


def _computer(st: CacheState, qs: Any, alias: str) -> Callable[[], tuple[Any, bytes | None]]:
    def compute() -> tuple[Any, bytes | None]:
        token = bypass.set(True)
        try:
            instances = list(qs._iterable_class(qs))
        finally:
            bypass.reset(token)
        rows = [row_of(instance) for instance in instances]
        if None in rows or session_changed(connections[alias]):
            return instances, None
        try:
            return instances, st.codec.dumps(rows)
        except (pickle.PicklingError, TypeError, AttributeError):
            return instances, None

    return compute


def _decoder(st: CacheState, model: Any, alias: str) -> Callable[[bytes], Any]:
    def decode(blob: bytes) -> Any:
        # what ModelIterable does with each row of a simple queryset
        return [model.from_db(alias, None, row) for row in st.codec.loads(blob)]

    return decode


def fill_result_cache(queryset: QuerySet[Any]) -> None:
    """Before ``QuerySet._fetch_all`` runs: fill the result cache from the cache, when
    this queryset is one keyed from its parts (``_fetch_all`` then has nothing to do)."""
    qs: Any = queryset
    if qs._result_cache is None and not bypass.get():
        rows = _evaluate(qs)
        if rows is not None:
            qs._result_cache = rows
