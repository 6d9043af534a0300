"""System checks of the migration settings (ids ``django_dbopt.E050``-``E059``)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from django_dbopt.conf import SETTING_NAME
from django_dbopt.migration_lint.rules import RULES

_ENTRY = re.compile(r"(?P<app>[\w]+)\.(?P<migration>[\w]+):(?P<rule>\S+)")


def check_migration_ignores(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, SETTING_NAME, {})
    section = user.get("MIGRATIONS") if isinstance(user, dict) else None
    entries = section.get("IGNORE") if isinstance(section, dict) else None
    if not isinstance(entries, (list, tuple)):
        return []  # absent, or a type problem reported as E003
    where = f"{SETTING_NAME}['MIGRATIONS']['IGNORE']"
    messages: list[CheckMessage] = []
    for entry in entries:
        match = _ENTRY.fullmatch(entry) if isinstance(entry, str) else None
        if match is None:
            messages.append(
                Error(
                    f"{where} has {entry!r}, which is not 'app_label.migration_name:RULE'.",
                    hint="Write e.g. 'shop.0002_add_index:DBM001' (or ':*' for every rule); "
                    "the migration name is the file name without .py.",
                    id="django_dbopt.E050",
                )
            )
        elif match["rule"] != "*" and match["rule"] not in RULES:
            messages.append(
                Error(
                    f"{where} has {entry!r}, whose rule {match['rule']!r} does not exist.",
                    hint=f"Use one of {', '.join(RULES)} or '*' (docs/migrations.md).",
                    id="django_dbopt.E051",
                )
            )
    return messages
