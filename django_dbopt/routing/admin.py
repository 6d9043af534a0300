"""Staff-only admin page: each replica's state and this process's routing counters."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_dbopt.conf import get_config
from django_dbopt.routing.counters import REASONS
from django_dbopt.routing.health import monitor
from django_dbopt.routing.models import ReplicaStatusPage
from django_dbopt.routing.status import status


@admin.register(ReplicaStatusPage)
class ReplicaStatusAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "",
                self.admin_site.admin_view(self.status_view),
                name="{}_{}_changelist".format(*info),
            )
        ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def status_view(self, request: HttpRequest) -> HttpResponse:
        if get_config().routing.replicas:
            monitor.ensure_started()  # probes run in the background thread, not here
        report = status()
        total = sum(report.counters.values())
        counters = [
            {
                "reason": reason,
                "count": report.counters[reason],
                "percent": round(100 * report.counters[reason] / total, 1) if total else None,
            }
            for reason in REASONS
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Replica status",
            "opts": self.opts,
            "report": report,
            "counters": counters,
            "decisions": total,
        }
        return TemplateResponse(request, "django_dbopt/routing/status.html", context)
