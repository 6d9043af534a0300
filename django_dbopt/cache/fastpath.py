"""``Model.objects.get(pk=...)`` keyed before SQL compilation, where that is provably safe.

Building and compiling a queryset costs more than reading its cached rows, so for the
most common read of all, a primary-key lookup, the key is made from the lookup itself.
``QuerySet.get`` is wrapped (by ``patches.py``); the fast path is taken only when all
of this holds, and otherwise the original ``get`` runs (and the SQL-level cache of
``orm.py`` applies as usual):

- the queryset is the model's *unmodified* base queryset: no filter, annotation, extra,
  ``select_related``, ``prefetch_related``, ``only``/``defer``, ``values``, slicing,
  ``distinct``, combinator, ``select_for_update``, and it yields model instances;
- the only argument is one primary-key equality (``pk=``, ``id=``, ``pk__exact=``...)
  whose value the pk field accepts (``get_prep_value``);
- the model (with its multi-table parents) is opted in and has no ``post_init``
  receivers (a cached instance is unpickled, not initialised);
- the read may be cached now (``writes.uncacheable_now``, pending invalidations).

Then the query is exactly ``SELECT <every concrete column> FROM <its tables> WHERE pk = v``;
its result depends only on the rows of those tables, whose generations end the key, as
for every other cached read. The cached value is the row the instance was built from
(its concrete fields' values, as the database converters returned them), or "no such
row" (so ``DoesNotExist`` is cached too); a hit builds the instance with ``from_db``, as
the ORM does, for the alias read. (A row pickles in a quarter of the time an instance
does, and unpickles with ``from_db`` in half.)
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet, signals
from django.db.models.query import ModelIterable

from django_dbopt.cache import generations
from django_dbopt.cache.keyed import row_of, through_cache
from django_dbopt.cache.plans import CachePlan, Resolver, bypass, resolve
from django_dbopt.cache.state import CacheState
from django_dbopt.cache.tables import configured_tables
from django_dbopt.cache.writes import session_changed, uncacheable_now

#: ``QuerySet.get`` as it was before ``patches.py`` wrapped it
Get = Callable[..., Any]
_ABSENT = b"\0absent"
_NO_DEFERRED: tuple[frozenset[str], bool] = (frozenset(), True)


def _pristine(queryset: QuerySet[Any]) -> bool:
    qs: Any = queryset  # private attributes django-stubs does not declare
    query = qs.query
    return (
        qs._iterable_class is ModelIterable
        and not qs._prefetch_related_lookups
        and not qs._known_related_objects
        and qs._fields is None
        and not qs._sticky_filter
        and not qs._defer_next_filter
        and query.model is qs.model
        and not query.where.children
        and not query.annotations
        and not query.extra
        and not query.select_related
        and query.default_cols
        and not query.select
        and not query.values_select
        and not query.distinct
        and not query.combinator
        and not query.select_for_update
        and not query.is_sliced
        and query.deferred_loading == _NO_DEFERRED
        and query.group_by is None
    )


def _pk_value(model: type[Model], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    if len(kwargs) != 1:
        return False, None
    ((name, value),) = kwargs.items()
    pk = model._meta.pk
    assert pk is not None
    if name.endswith("__exact"):
        name = name[:-7]
    if name not in ("pk", pk.name, pk.attname) or isinstance(value, (Model, QuerySet)):
        return False, None
    try:
        return True, pk.get_prep_value(value)
    except (TypeError, ValueError):
        return False, None  # the original get() raises the right error


def _tables(model: type[Model]) -> frozenset[str]:
    concrete = model._meta.concrete_model
    assert concrete is not None
    return frozenset(m._meta.db_table for m in [concrete, *concrete._meta.get_parent_list()])


def _target(resolved: Resolver, model: type[Model]) -> tuple[CachePlan | None, str]:
    """The plan of ``model``'s pk reads (None: not every table is opted in) and its label,
    memoized until the settings change."""
    tables = _tables(model)
    plan = resolved.table_plan(tables) if tables <= configured_tables() else None
    found = resolved.pk_targets[model] = (plan, model._meta.label_lower)
    return found


def get(original: Get, qs: QuerySet[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``QuerySet.get`` through the cache (``original``: the method wrapped)."""
    resolved = resolve()
    st = resolved.state
    if st is None or not resolved.auto or args or bypass.get() or not _pristine(qs):
        return original(qs, *args, **kwargs)
    model = qs.model
    ok, value = _pk_value(model, kwargs)
    if not ok or signals.post_init.has_listeners(model):
        return original(qs, *args, **kwargs)
    try:
        plan, label = resolved.pk_targets[model]
    except KeyError:
        plan, label = _target(resolved, model)
    alias = qs.db
    if (
        plan is None
        or uncacheable_now(connections[alias])
        or (st.pending and not generations.writable(st))
    ):
        return original(qs, *args, **kwargs)
    ident = repr((label, resolved.cluster(alias), value))
    if len(ident) > 120 or " at 0x" in ident:
        ident = hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()
    return through_cache(
        st,
        plan,
        f"{st.ns}pkrow:{ident}:",
        compute=_computer(st, original, qs, kwargs, alias),
        decode=_decoder(st, model, alias),
        strict=resolved.strict,
        fills=resolved.cluster(alias) == alias,  # replicas never fill (see orm.py)
    )


def _computer(
    st: CacheState, original: Get, qs: QuerySet[Any], kwargs: dict[str, Any], alias: str
) -> Callable[[], tuple[Any, bytes | None]]:
    model = qs.model

    def compute() -> tuple[Any, bytes | None]:
        try:
            instance = _run(original, qs, kwargs)
        except model.DoesNotExist as e:
            return e, None if session_changed(connections[alias]) else _ABSENT
        row = row_of(instance)
        if row is None or session_changed(connections[alias]):
            return instance, None
        try:
            return instance, st.codec.dumps(row)
        except (pickle.PicklingError, TypeError, AttributeError):
            return instance, None

    return compute


def _decoder(st: CacheState, model: Any, alias: str) -> Callable[[bytes], Any]:
    def decode(blob: bytes) -> Any:
        if blob == _ABSENT:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        # what ModelIterable does with the row of a pristine queryset
        return model.from_db(alias, None, st.codec.loads(blob))

    return decode


def _run(original: Get, qs: QuerySet[Any], kwargs: dict[str, Any]) -> Any:
    token = bypass.set(True)
    try:
        return original(qs, **kwargs)
    finally:
        bypass.reset(token)
