"""Staff-only admin page: each replica's state and this process's routing counters."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReportPageAdmin
from django_dbopt.conf import get_config
from django_dbopt.routing.counters import REASONS
from django_dbopt.routing.health import monitor
from django_dbopt.routing.models import ReplicaStatusPage
from django_dbopt.routing.status import status


@admin.register(ReplicaStatusPage)
class ReplicaStatusAdmin(ReportPageAdmin[ReplicaStatusPage]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
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
        context = self.page_context(
            request, "Replica status", report=report, counters=counters, decisions=total
        )
        return TemplateResponse(request, "django_dbopt/routing/status.html", context)
