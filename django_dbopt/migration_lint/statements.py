"""What each PostgreSQL statement does, read from the SQL Django renders.

``parse()`` turns statements (Django's own, or a ``RunSQL``'s) into ``Action``s: one per
statement, or one per sub-command of an ``ALTER TABLE``. The shapes recognised are those
Django's PostgreSQL schema editor emits plus the usual hand-written safe forms
(``CONCURRENTLY``, ``NOT VALID``, ``VALIDATE CONSTRAINT``, ``UNIQUE USING INDEX``);
anything else is an ``unknown`` action that the rules report for ``RunSQL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlparse

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_NAME = rf"(?:{_IDENT}\.)?({_IDENT})"
_FLAGS = re.IGNORECASE | re.DOTALL

#: functions whose value differs per row: a column default using one rewrites the table
VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v[14]\w*|clock_timestamp|timeofday|nextval"
    r"|txid_current|setseed)\s*\(",
    re.IGNORECASE,
)

_STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    (
        "create_table",
        re.compile(rf"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", _FLAGS),
    ),
    (
        "create_index",
        re.compile(
            rf"CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?"
            rf"(?:({_IDENT})\s+)?ON\s+(?:ONLY\s+)?{_NAME}",
            _FLAGS,
        ),
    ),
    ("drop_index", re.compile(r"DROP\s+INDEX\s+(CONCURRENTLY\s+)?", _FLAGS)),
    (
        "reindex",
        re.compile(
            rf"REINDEX\s+(?:\([^)]*\)\s+)?(INDEX|TABLE|SCHEMA|DATABASE|SYSTEM)\s+"
            rf"(CONCURRENTLY\s+)?(?:{_NAME})?",
            _FLAGS,
        ),
    ),
    (
        "rewrite_table",
        re.compile(
            rf"(?:CLUSTER(?:\s+VERBOSE)?|VACUUM\s+(?:\([^)]*\bFULL\b[^)]*\)|FULL\b(?:\s+"
            rf"(?:FREEZE|VERBOSE|ANALYZE)\b)*))(?:\s+(?!USING\b){_NAME})?",
            _FLAGS,
        ),
    ),
    ("drop_table", re.compile(rf"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", _FLAGS)),
    (
        "alter_table",
        re.compile(rf"ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}\s+(.*)", _FLAGS),
    ),
    (
        "data_change",
        re.compile(rf"(?:UPDATE\s+(?:ONLY\s+)?|DELETE\s+FROM\s+|INSERT\s+INTO\s+){_NAME}", _FLAGS),
    ),
]

#: statements that take no lock worth reporting
_HARMLESS = re.compile(
    r"(SET|RESET|SELECT|COMMENT\s+ON|ALTER\s+INDEX|ALTER\s+SEQUENCE|CREATE\s+SEQUENCE"
    r"|DROP\s+SEQUENCE|CREATE\s+EXTENSION|ANALYZE|GRANT|REVOKE|CREATE\s+(?:OR\s+REPLACE\s+)?VIEW"
    r"|DROP\s+VIEW)\b",
    _FLAGS,
)

_SUBCOMMANDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "add_constraint",
        re.compile(
            rf"ADD\s+(?:CONSTRAINT\s+{_IDENT}\s+)?(FOREIGN\s+KEY|CHECK|UNIQUE|PRIMARY\s+KEY|EXCLUDE)(.*)",
            _FLAGS,
        ),
    ),
    (
        "add_column",
        re.compile(rf"ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?({_IDENT})\s+(.*)", _FLAGS),
    ),
    (
        "alter_type",
        re.compile(rf"ALTER\s+(?:COLUMN\s+)?({_IDENT})\s+(?:SET\s+DATA\s+)?TYPE\s+(.*)", _FLAGS),
    ),
    ("set_not_null", re.compile(rf"ALTER\s+(?:COLUMN\s+)?({_IDENT})\s+SET\s+NOT\s+NULL", _FLAGS)),
    ("drop_default", re.compile(rf"ALTER\s+(?:COLUMN\s+)?({_IDENT})\s+DROP\s+DEFAULT\b", _FLAGS)),
    (
        "harmless",
        re.compile(
            rf"ALTER\s+(?:COLUMN\s+)?({_IDENT})\s+(DROP\s+NOT\s+NULL|SET\s+DEFAULT|SET\s+STATISTICS|DROP\s+IDENTITY|ADD\s+GENERATED|SET\s+STORAGE)",
            _FLAGS,
        ),
    ),
    ("drop_column", re.compile(rf"DROP\s+(?:COLUMN\s+)(?:IF\s+EXISTS\s+)?({_IDENT})", _FLAGS)),
    (
        "harmless",
        re.compile(r"(DROP\s+CONSTRAINT|RENAME\s+CONSTRAINT)\b", _FLAGS),
    ),
    ("validate", re.compile(r"VALIDATE\s+CONSTRAINT\b", _FLAGS)),
    ("rename_table", re.compile(rf"RENAME\s+TO\s+({_IDENT})", _FLAGS)),
    ("rename_column", re.compile(rf"RENAME\s+(?:COLUMN\s+)?({_IDENT})\s+TO", _FLAGS)),
]


@dataclass(frozen=True)
class Action:
    """One thing a statement does to one table."""

    kind: str
    table: str | None
    sql: str
    column: str | None = None
    concurrent: bool = False
    unique: bool = False
    not_valid: bool = False
    #: add_constraint: "foreign key", "check", "unique", "primary key", "exclude";
    #: alter_type: the new type; add_column: the column definition; create_index: the
    #: index name (unquoted; "" when PostgreSQL picks it); reindex: "index" or "table"
    #: (... "system") and the index name for "index"; rewrite_table: the statement's verb
    detail: str = ""


def unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def split(statements: list[str]) -> list[str]:
    """Single statements, comments and empty ones dropped."""
    out = []
    for text in statements:
        for statement in sqlparse.split(sqlparse.format(text, strip_comments=True)):
            statement = statement.strip().rstrip(";").strip()
            if statement:
                out.append(statement)
    return out


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _alter_table(table: str, body: str, statement: str) -> list[Action]:
    actions = []
    for part in _top_level_parts(body):
        for kind, pattern in _SUBCOMMANDS:
            match = pattern.match(part)
            if match is None:
                continue
            if kind == "add_constraint":
                constraint = " ".join(match.group(1).lower().split())
                rest = match.group(2)
                using_index = re.search(r"USING\s+INDEX", rest, re.IGNORECASE) is not None
                actions.append(
                    Action(
                        "harmless" if using_index else kind,
                        table,
                        statement,
                        detail=constraint,
                        not_valid=re.search(r"NOT\s+VALID\s*$", rest, _FLAGS) is not None,
                    )
                )
            elif kind in ("add_column", "alter_type"):
                actions.append(
                    Action(kind, table, statement, unquote(match.group(1)), detail=match.group(2))
                )
            elif kind == "rename_table":
                actions.append(Action(kind, table, statement, detail=unquote(match.group(1))))
            elif kind in ("harmless", "validate"):
                actions.append(Action(kind, table, statement))
            else:
                actions.append(Action(kind, table, statement, unquote(match.group(1))))
            break
        else:
            actions.append(Action("unknown", table, statement))
    return actions


def _reindex(match: re.Match[str], statement: str) -> Action:
    target = match.group(1).lower()
    name = unquote(match.group(3)) if match.group(3) else ""
    return Action(
        "reindex",
        name if target == "table" else None,
        statement,
        concurrent=bool(match.group(2)),
        detail=f"{target} {name}".strip(),
    )


def parse(statements: list[str]) -> list[Action]:
    """The actions of ``statements`` (each may hold several ``;``-separated ones)."""
    actions: list[Action] = []
    for statement in split(statements):
        for kind, pattern in _STATEMENTS:
            match = pattern.match(statement)
            if match is None:
                continue
            if kind == "create_index":
                actions.append(
                    Action(
                        kind,
                        unquote(match.group(4)),
                        statement,
                        unique=bool(match.group(1)),
                        concurrent=bool(match.group(2)),
                        detail=unquote(match.group(3)) if match.group(3) else "",
                    )
                )
            elif kind == "reindex":
                actions.append(_reindex(match, statement))
            elif kind == "rewrite_table":
                table = unquote(match.group(1)) if match.group(1) else None
                verb = "CLUSTER" if statement[:7].upper() == "CLUSTER" else "VACUUM FULL"
                actions.append(Action(kind, table, statement, detail=verb))
            elif kind == "drop_index":
                actions.append(Action(kind, None, statement, concurrent=bool(match.group(1))))
            elif kind == "alter_table":
                actions.extend(_alter_table(unquote(match.group(1)), match.group(2), statement))
            else:
                actions.append(Action(kind, unquote(match.group(1)), statement))
            break
        else:
            kind = "harmless" if _HARMLESS.match(statement) else "unknown"
            actions.append(Action(kind, None, statement))
    return actions
