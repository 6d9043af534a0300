"""System checks of ``DBOPT['BENCHMARK']`` (ids ``django_dbopt.E070``-``E079``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from django_dbopt.conf import SETTING_NAME


def _section() -> dict[str, Any]:
    user = getattr(settings, SETTING_NAME, {})
    section = user.get("BENCHMARK") if isinstance(user, dict) else None
    return section if isinstance(section, dict) else {}


def check_benchmark(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from django_dbopt.benchmark.grades import KEYS
    from django_dbopt.benchmark.user_workloads import KINDS

    section = _section()
    where = f"{SETTING_NAME}['BENCHMARK']"
    messages: list[CheckMessage] = []
    targets = section.get("TARGETS")
    if isinstance(targets, dict):
        known = {k.upper() for k in KEYS}
        for key in targets:
            if str(key).upper() not in known:
                messages.append(
                    Error(
                        f"{where}['TARGETS'] has an unknown target {key!r}.",
                        hint=f"Known targets: {', '.join(sorted(known))} (docs/benchmark.md).",
                        id="django_dbopt.E070",
                    )
                )
    workloads = section.get("WORKLOADS")
    if isinstance(workloads, (list, tuple)):
        for spec in workloads:
            kind, _, value = str(spec).partition(":")
            if kind not in KINDS or not value.strip():
                messages.append(
                    Error(
                        f"{where}['WORKLOADS'] has {spec!r}, which is not a workload.",
                        hint="Write 'function:dotted.path', 'queryset:<expression>' or "
                        "'url:/path/'.",
                        id="django_dbopt.E071",
                    )
                )
    return messages
