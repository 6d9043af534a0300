"""Which tables a SQL statement touches, which tables are opted in, what is volatile.

Found conservatively from the SQL text that will run (joins, subqueries, CTEs included):
every identifier in it, quoted or not, that is the table of an installed model (or of an
auto-created many-to-many table). An over-match (a column named like a table) only costs
an extra invalidation; tables Django does not know (views, raw tables) cannot be seen,
so queries on them are not cached unless every table they name is an opted-in model's.
Memoized per SQL string: the per-query cost is a dict lookup.
"""

from __future__ import annotations

import functools
import re

from django.apps import apps

from django_dbopt.conf import get_config

_WORDS = re.compile(r'"([^"]+)"|`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_$]*)\b')
_QUOTED = re.compile(r"\"[^\"]*\"|`[^`]*`|'(?:[^']|'')*'")
_VOLATILE = re.compile(
    r"\b(NOW|RANDOM|RAND|RANDOM_UUID|GEN_RANDOM_UUID|UUID_GENERATE_V\d\w*|UUID|"
    r"CLOCK_TIMESTAMP|STATEMENT_TIMESTAMP|TRANSACTION_TIMESTAMP|TIMEOFDAY|SETSEED|"
    r"NEXTVAL|CURRVAL|LASTVAL|TXID_CURRENT\w*|PG_\w+|INET_\w+|VERSION|DATETIME|DATE|"
    r"TIME|JULIANDAY|STRFTIME|UNIXEPOCH|CHANGES|LAST_INSERT_ROWID|TOTAL_CHANGES)\s*\(|"
    r"\b(CURRENT_DATE|CURRENT_TIME|CURRENT_TIMESTAMP|LOCALTIME|LOCALTIMESTAMP|"
    r"CURRENT_USER|SESSION_USER|CURRENT_ROLE|TABLESAMPLE)\b",
    re.IGNORECASE,
)


@functools.cache
def known_tables() -> frozenset[str]:
    """Every table of an installed model, auto-created m2m tables included."""
    return frozenset(m._meta.db_table for m in apps.get_models(include_auto_created=True))


def opted_tables(entries: tuple[str, ...]) -> frozenset[str]:
    """Tables of ``DBOPT['CACHE']['ORM_MODELS']`` entries (``app`` or ``app.Model``)."""
    return _opted(entries)


@functools.cache
def _opted(entries: tuple[str, ...]) -> frozenset[str]:
    tables: set[str] = set()
    for entry in entries:
        if "." in entry:
            models = [apps.get_model(entry)]
        else:
            models = list(apps.get_app_config(entry).get_models())
        for model in models:
            tables.add(model._meta.db_table)
            for field in model._meta.local_many_to_many:
                through = field.remote_field.through
                if through._meta.auto_created:
                    tables.add(through._meta.db_table)
    return frozenset(tables)


def configured_tables() -> frozenset[str]:
    """Tables whose queries are cached automatically (``ORM_MODELS``)."""
    return opted_tables(tuple(get_config().cache.orm_models))


def tracked_tables() -> frozenset[str]:
    """Tables whose writes bump generations (``ORM_MODELS`` and ``TRACK_MODELS``)."""
    config = get_config().cache
    return opted_tables((*config.orm_models, *config.track_models))


@functools.lru_cache(maxsize=8192)
def tables_in(sql: str) -> frozenset[str]:
    known = known_tables()
    found = set()
    for match in _WORDS.finditer(sql):
        word = match.group(1) or match.group(2) or match.group(3)
        if word in known:
            found.add(word)
    return frozenset(found)


@functools.lru_cache(maxsize=8192)
def is_volatile(sql: str) -> bool:
    """The result may differ between two runs on the same data (time, random, sequences)."""
    return bool(_VOLATILE.search(_QUOTED.sub(" ", sql)))


def clear_memos() -> None:
    known_tables.cache_clear()
    _opted.cache_clear()
    tables_in.cache_clear()
