"""System checks on ``DBOPT['ALERTS']['RULES']`` (ids ``django_dbopt.E080``-``E082``).

Registered in ``django_dbopt/checks.py``. The section's other keys are checked with the
rest of ``DBOPT`` (``validation.py``).
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string

from django_dbopt.conf import SETTING_NAME
from django_dbopt.ops.alert_rules import BUILTIN, KEYS

WHERE = f"{SETTING_NAME}['ALERTS']['RULES']"


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _rule_problems(name: str, rule: Any) -> list[CheckMessage]:
    where = f"{WHERE}[{name!r}]"
    if not isinstance(rule, dict):
        return [
            Error(
                f"{where} must be a dict.",
                hint="Write {'THRESHOLD': 10, ...}.",
                id="django_dbopt.E080",
            )
        ]
    out: list[CheckMessage] = []
    for key, value in rule.items():
        bad = None
        if key not in KEYS:
            bad = f"has an unknown key {key!r}"
        elif key in ("THRESHOLD", "FOR_S") and not _number(value):
            bad = f"{key} is {value!r}; expected a finite number >= 0"
        elif key == "SEVERITY" and value not in ("warning", "critical"):
            bad = f"SEVERITY is {value!r}; expected 'warning' or 'critical'"
        elif key == "ENABLED" and not isinstance(value, bool):
            bad = f"ENABLED is {value!r}; expected True or False"
        if bad:
            out.append(
                Error(f"{where} {bad}.", hint=f"Keys: {', '.join(KEYS)}.", id="django_dbopt.E081")
            )
    measure = rule.get("MEASURE")
    if measure is not None:
        try:
            found = import_string(str(measure))
        except ImportError:
            found = None
        if not callable(found):
            out.append(
                Error(
                    f"{where}['MEASURE'] {measure!r} is not an importable callable.",
                    hint="Give the dotted path of a function returning measurements.",
                    id="django_dbopt.E082",
                )
            )
    return out


def check_alert_rules(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    alerts = user.get("ALERTS") if isinstance(user, dict) else None
    rules = alerts.get("RULES") if isinstance(alerts, dict) else None
    if not isinstance(rules, dict):
        return []  # absent, or a type error validation.py reports
    out: list[CheckMessage] = []
    for name, rule in rules.items():
        if name not in BUILTIN:
            out.append(
                Error(
                    f"{WHERE} has an unknown rule {name!r}.",
                    hint=f"Rules: {', '.join(BUILTIN)}.",
                    id="django_dbopt.E080",
                )
            )
            continue
        out.extend(_rule_problems(name, rule))
    return out
