"""Index advice: candidates from a query's WHERE / JOIN / ORDER BY, proved with HypoPG.

Parsing is sqlglot's (off the hot path). A candidate is skipped unless its table and
columns exist in the catalog (``pg_attribute``), and when an existing index already
starts with its columns; identifiers in the DDL are quoted by psycopg. With the
``hypopg`` extension installed in the database, each candidate is created
hypothetically and the query's generic plan re-costed: it is "validated" only if the
planner uses it and the cost drops by at least ``MIN_COST_GAIN``; a candidate the
planner ignores is dropped. Without HypoPG it is "unvalidated" (and only offered for
tables of at least ``LARGE_TABLE_ROWS`` rows). Ranking: measured total time x the
planner's cost reduction (validated), else measured total time.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from django.db import DatabaseError, connections
from sqlglot import exp
from sqlglot.errors import SqlglotError

from django_dbopt.conf import get_config
from django_dbopt.exceptions import NotSupported, UnsafeQuery
from django_dbopt.monitor.explain import explain, explain_alias, parameterize, table_rows
from django_dbopt.monitor.indexes import (
    IndexInfo,
    existing_indexes,
    has_hypopg,
    quote_ident,
    table_columns,
)
from django_dbopt.monitor.migration import migration_for
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import get_store, merge_by
from django_dbopt.sqlkind import statement_kind

logger = logging.getLogger("django_dbopt.monitor")

MIN_COST_GAIN = 0.10
MAX_COLUMNS = 3
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Like, exp.ILike)
_EQUAL = (exp.EQ, exp.In, exp.Is)


@dataclass
class Candidate:
    table: str
    columns: list[str]
    equality: int  # how many leading columns are equality predicates

    @property
    def ddl(self) -> str:
        cols = ", ".join(quote_ident(c) for c in self.columns)
        return f"CREATE INDEX ON {quote_ident(self.table)} ({cols})"


@dataclass
class Advice:
    fingerprint: str
    sql: str
    table: str
    columns: list[str]
    status: str  # "validated" or "unvalidated"
    calls: int
    total_ms: float
    cost_before: float | None = None
    cost_after: float | None = None
    est_saved_ms: float | None = None
    migration: str = ""
    ddl: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _columns_of(node: exp.Expression, aliases: dict[str, str], default: str | None) -> Any:
    for column in node.find_all(exp.Column):
        table = aliases.get(column.table, column.table) if column.table else default
        if table:
            yield table, column.name


def candidates(sql: str) -> list[Candidate]:
    """One composite candidate per table the query filters, joins or sorts on."""
    text, _ = parameterize(sql) if "?" in sql else (sql, 0)
    try:
        tree = sqlglot.parse_one(text, read="postgres")
    except SqlglotError as e:  # TokenError (an unterminated comment) is not a ParseError
        logger.info("no index advice for a shape sqlglot cannot read: %s", e)
        return []
    found: dict[str, dict[str, list[str]]] = {}

    def add(table: str, column: str, kind: str) -> None:
        slot = found.setdefault(table, {"eq": [], "range": [], "order": [], "join": []})
        if column not in slot[kind] and all(column not in cols for cols in slot.values()):
            slot[kind].append(column)

    for select in tree.find_all(exp.Select):
        tables = list(select.find_all(exp.Table))
        aliases = {t.alias_or_name: t.name for t in tables}
        default = tables[0].name if len(tables) == 1 else None
        where = select.args.get("where")
        for pred in where.find_all(*_EQUAL, *_RANGE) if where else ():
            cols = list(_columns_of(pred, aliases, default))
            if len(cols) == 1:
                table, column = cols[0]
                add(table, column, "eq" if isinstance(pred, _EQUAL) else "range")
        for join in select.args.get("joins") or ():
            on = join.args.get("on")
            for pred in on.find_all(exp.EQ) if on else ():
                for table, column in _columns_of(pred, aliases, default):
                    add(table, column, "join")
        order = select.args.get("order")
        if order is not None:
            ordered = list(_columns_of(order, aliases, default))
            if len({t for t, _ in ordered}) == 1:
                for table, column in ordered:
                    add(table, column, "order")
    out = []
    for table, slot in found.items():
        tail = slot["range"][:1] or slot["order"]
        eq = slot["eq"] or slot["join"][:1]  # a join column only when nothing filters
        columns = (eq + tail)[:MAX_COLUMNS]
        if columns:
            out.append(Candidate(table, columns, min(len(eq), len(columns))))
    return out


def covered(candidate: Candidate, indexes: list[IndexInfo]) -> bool:
    """Does an existing index already start with the candidate's columns?"""
    eq = set(candidate.columns[: candidate.equality])
    rest = candidate.columns[candidate.equality :]
    for index in indexes:
        if index.partial or not index.valid or len(index.columns) < len(candidate.columns):
            continue
        head = index.columns[: len(eq)]
        if set(head) == eq and index.columns[len(eq) : len(candidate.columns)] == rest:
            return True
    return False


def _validate(sql: str, candidate: Candidate, using: str) -> tuple[float, float, bool]:
    using = explain_alias(using)  # HypoPG's indexes live in the session EXPLAIN uses
    before = explain(sql, using=using).total_cost
    token = suppressed.set(True)
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT indexname FROM hypopg_create_index(%s)", [candidate.ddl])
            (name,) = cursor.fetchone()
        try:
            after_plan = explain(sql, using=using)
        finally:
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT hypopg_reset()")
    finally:
        suppressed.reset(token)
    used = name in str(after_plan.plan)
    return before, after_plan.total_cost, used


def advise_query(
    fingerprint: str, sql: str, using: str, calls: int, total_ms: float
) -> list[Advice]:
    """Advice for one query shape (empty when nothing useful is missing)."""
    if statement_kind(sql) != "read" or connections[using].vendor != "postgresql":
        return []
    proposals = candidates(sql)
    if not proposals:
        return []
    real = table_columns(using, {c.table for c in proposals})
    proposals = [c for c in proposals if set(c.columns) <= real.get(c.table, set())]
    if not proposals:
        return []  # only names the catalog does not know (a view, a CTE, a crafted name)
    indexes = existing_indexes(using, {c.table for c in proposals})
    hypo = has_hypopg(explain_alias(using))  # HypoPG runs where EXPLAIN runs
    sizes = table_rows(using, {c.table for c in proposals})
    out = []
    for candidate in proposals:
        if candidate.table not in indexes and candidate.table not in sizes:
            continue  # not a table of this database (a view, a CTE)
        if covered(candidate, indexes.get(candidate.table, [])):
            continue
        advice = Advice(
            fingerprint,
            sql,
            candidate.table,
            candidate.columns,
            "unvalidated",
            calls,
            total_ms,
            ddl=candidate.ddl.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1),
        )
        if hypo:
            try:
                before, after, used = _validate(sql, candidate, using)
            except (DatabaseError, UnsafeQuery, NotSupported) as e:
                logger.info("HypoPG check failed for %s: %s", fingerprint, e)
                continue
            if not used or after > before * (1 - MIN_COST_GAIN):
                continue
            advice.status = "validated"
            advice.cost_before, advice.cost_after = before, after
            advice.est_saved_ms = total_ms * (1 - after / before)
        elif sizes.get(candidate.table, 0) < get_config().monitor.large_table_rows:
            continue
        advice.migration = migration_for(candidate.table, candidate.columns)
        out.append(advice)
    return out


def advise(
    since: datetime.datetime | None = None, view: str | None = None, limit: int = 50
) -> list[Advice]:
    """Advice for the ``limit`` SELECT fingerprints with the most total time, ranked."""
    stats = merge_by(get_store().load(since, view).items(), by_view=False)
    ranked = sorted(stats.values(), key=lambda s: -s.total_ns)
    out: list[Advice] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for item in [s for s in ranked if statement_kind(s.fingerprint.sql) == "read"][:limit]:
        try:
            found = advise_query(
                item.fingerprint.id,
                item.fingerprint.sql,
                item.alias,
                item.calls,
                item.total_ns / 1e6,
            )
        except (DatabaseError, SqlglotError) as e:  # one bad shape never hides the others
            logger.info("no index advice for fingerprint=%s: %s", item.fingerprint.id, e)
            continue
        for advice in found:
            key = (advice.table, tuple(advice.columns))
            if key not in seen:
                seen.add(key)
                out.append(advice)
    return sorted(out, key=_rank)


def _rank(advice: Advice) -> tuple[int, float]:
    """Validated first, by estimated time saved; then unvalidated, by measured total time."""
    if advice.est_saved_ms is not None:
        return (0, -advice.est_saved_ms)
    return (1, -advice.total_ms)
