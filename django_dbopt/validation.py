"""Validation of the ``DBOPT`` setting against the dataclasses in ``conf.py``.

One function, ``find_problems()``, serves both the system checks (``checks.py``, every
problem with its id and hint) and the runtime accessor (``conf.get_config()``, which
raises on the first), so both say the same thing in the same words.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from django_dbopt.conf import ALIAS, MIN, SETTING_NAME, section_types


@dataclass(frozen=True)
class Problem:
    """One thing wrong with ``DBOPT``; ``checks.py`` turns these into check messages."""

    id: str
    msg: str
    hint: str


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin is dict:
        key, item = typing.get_args(hint)
        return f"dict of {_describe(key)} to {_describe(item)}"
    if origin is list:
        (item,) = typing.get_args(hint)
        return f"list of {_describe(item)}"
    if origin is not None:
        return origin.__name__  # type: ignore[no-any-return]
    return hint.__name__  # type: ignore[no-any-return]


def _mismatch(where: str, value: Any, hint: Any) -> str:
    """What is wrong with ``value`` (not of type ``hint``), naming the innermost item of a
    dict or list that is wrong, so the message points at what to fix."""
    origin = typing.get_origin(hint)
    if origin is dict and isinstance(value, dict):
        key, item = typing.get_args(hint)
        for k, v in value.items():
            if not _matches(k, key):
                return f"{where} has the key {k!r} ({type(k).__name__}); expected {_describe(key)}"
            if not _matches(v, item):
                return _mismatch(f"{where}[{k!r}]", v, item)
    if origin is list and isinstance(value, (list, tuple)):
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            if not _matches(v, item):
                return _mismatch(f"{where}[{i}]", v, item)
    return f"{where} is {value!r} ({type(value).__name__}); expected {_describe(hint)}"


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # finite: NaN and infinity pass every comparison check wrongly
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, item) for k, v in value.items()
        )
    return isinstance(value, hint)


def _unknown(kind: str, name: str, known: list[str], where: str) -> Problem:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    return Problem(
        "django_dbopt.E002",
        f"{where} has an unknown {kind} {name!r}.",
        f"{hint}Known {kind}s: {', '.join(known)}.",
    )


def find_problems(
    user: Any, databases: list[str] | None = None, caches: list[str] | None = None
) -> list[Problem]:
    """Every problem with a ``DBOPT`` value, without raising.

    ``databases`` / ``caches`` are the configured aliases; aliases are checked only when
    given.
    """
    if not isinstance(user, dict):
        return [
            Problem(
                "django_dbopt.E001",
                f"{SETTING_NAME} must be a dict, not {type(user).__name__}.",
                f"Set {SETTING_NAME} = {{'MONITOR': {{...}}, 'ROUTING': {{...}}, ...}}.",
            )
        ]
    problems: list[Problem] = []
    sections = section_types()
    for section_name, section_value in user.items():
        if section_name not in sections:
            problems.append(_unknown("section", str(section_name), list(sections), SETTING_NAME))
            continue
        where = f"{SETTING_NAME}[{section_name!r}]"
        if not isinstance(section_value, dict):
            problems.append(
                Problem(
                    "django_dbopt.E001",
                    f"{where} must be a dict, not {type(section_value).__name__}.",
                    f"Write {where} = {{'KEY': value, ...}}.",
                )
            )
            continue
        section_cls = sections[section_name]
        hints = typing.get_type_hints(section_cls, include_extras=False)
        fields = {f.name.upper(): f for f in dataclasses.fields(section_cls)}
        for key, value in section_value.items():
            if key not in fields:
                problems.append(_unknown("key", str(key), list(fields), where))
                continue
            problems.extend(
                _check_value(
                    f"{SETTING_NAME}[{section_name!r}][{key!r}]",
                    value,
                    hints[fields[key].name],
                    fields[key].metadata,
                    databases,
                    caches,
                )
            )
    routing = user.get("ROUTING")
    if isinstance(routing, dict) and databases is not None:
        problems.extend(_check_replica_map(routing.get("REPLICAS", {}), databases))
    return problems


def _check_value(
    where: str,
    value: Any,
    hint: Any,
    metadata: Any,
    databases: list[str] | None,
    caches: list[str] | None,
) -> list[Problem]:
    if isinstance(value, float) and not math.isfinite(value):
        return [
            Problem(
                "django_dbopt.E003",
                f"{where} is {value!r}; expected a finite number.",
                "NaN and infinity compare false (or true) with everything, so a limit set "
                "to one never works; see docs/settings.md for the range.",
            )
        ]
    if not _matches(value, hint):
        return [
            Problem(
                "django_dbopt.E003",
                f"{_mismatch(where, value, hint)}.",
                "Fix the value's type; see the settings reference in docs/settings.md.",
            )
        ]
    minimum = metadata.get(MIN)
    if minimum is not None and value is not None and value < minimum:
        return [
            Problem(
                "django_dbopt.E006",
                f"{where} is {value!r}; it must be at least {minimum}.",
                "Use a value in range; see docs/settings.md.",
            )
        ]
    kind = metadata.get(ALIAS)
    known = {"database": databases, "cache": caches}.get(kind) if kind else None
    if known is not None and value is not None and value not in known:
        setting = "DATABASES" if kind == "database" else "CACHES"
        return [
            Problem(
                "django_dbopt.E004" if kind == "database" else "django_dbopt.E005",
                f"{where} names the {kind} alias {value!r}, which is not in {setting}.",
                f"Use one of: {', '.join(known) or '(none configured)'}.",
            )
        ]
    return []


def _check_replica_map(replicas: Any, databases: list[str]) -> list[Problem]:
    if not isinstance(replicas, dict):
        return []  # the type problem is reported by _check_value
    problems = []
    where = f"{SETTING_NAME}['ROUTING']['REPLICAS']"
    for primary, members in replicas.items():
        names = [primary, *(members if isinstance(members, dict) else {})]
        for alias in names:
            if alias not in databases:
                problems.append(
                    Problem(
                        "django_dbopt.E004",
                        f"{where} names the database alias {alias!r}, which is not in DATABASES.",
                        f"Use one of: {', '.join(databases)}.",
                    )
                )
        if isinstance(members, dict) and primary in members:
            problems.append(
                Problem(
                    "django_dbopt.E007",
                    f"{where}[{primary!r}] lists the primary {primary!r} as its own replica.",
                    "List only standby aliases under a primary.",
                )
            )
        for alias, weight in members.items() if isinstance(members, dict) else ():
            if isinstance(weight, (int, float)) and not (weight > 0 and math.isfinite(weight)):
                problems.append(
                    Problem(
                        "django_dbopt.E006",
                        f"{where}[{primary!r}][{alias!r}] has weight {weight!r}; "
                        "weights must be positive finite numbers.",
                        "Remove the replica instead of giving it weight 0.",
                    )
                )
    return problems


def find_option_problems(
    options: dict[str, Any], schema: type[Any], *, where: str, problem_id: str, hint: str
) -> list[Problem]:
    """Every key of ``options`` that ``schema`` (a dataclass, one field per key, the key
    being the field's name upper-cased, ``MIN`` in its metadata) does not know, or whose
    value is not of the field's type or below its minimum. For option sets kept beside
    ``DBOPT``, e.g. ``TwoTierCache``'s ``OPTIONS``; ``problem_id`` and ``hint`` are theirs."""
    hints = typing.get_type_hints(schema)
    fields = {f.name.upper(): f for f in dataclasses.fields(schema)}
    problems: list[Problem] = []
    for key, value in options.items():
        if key not in fields:
            problems.append(
                Problem(
                    problem_id,
                    f"{where} has an unknown key {key!r}.",
                    f"Known keys: {', '.join(fields)}.",
                )
            )
            continue
        kind = hints[fields[key].name]
        if value is None and _matches(None, kind):
            continue
        minimum = fields[key].metadata.get(MIN)
        if not _matches(value, kind) or (minimum is not None and value < minimum):
            problems.append(
                Problem(
                    problem_id,
                    f"{where}[{key!r}] is {value!r}; expected {_expected(kind, minimum)}.",
                    hint,
                )
            )
    return problems


def _expected(kind: Any, minimum: float | None) -> str:
    """``int (finite) >= 0``, ``str``: the type of a value that may not be None."""
    base = next(a for a in (*typing.get_args(kind), kind) if a is not type(None))
    low = f" >= {minimum}" if minimum is not None else ""
    if base in (int, float):
        low = f" (finite){low}"
    return f"{base.__name__}{low}"
