"""The overview page (also shown on the admin's django-dbopt index) and the alert history.

Both need the ``django_dbopt.view_reports`` permission, like every report page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReadOnlyReportAdmin, ReportPageAdmin
from django_dbopt.monitor.report import parse_since
from django_dbopt.ops import overview
from django_dbopt.ops.models import Alert, OverviewPage

PERIODS = ("5m", "15m", "1h", "6h", "24h", "7d")


def overview_context(request: HttpRequest) -> dict[str, Any]:
    since_text = request.GET.get("since", "1h")
    if since_text not in PERIODS:
        since_text = "1h"
    since = parse_since(since_text)
    return {
        "since": since,
        "since_text": since_text,
        "periods": PERIODS,
        "tiles": overview.build(since),
    }


@admin.register(OverviewPage)
class OverviewAdmin(ReportPageAdmin[OverviewPage]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
        context = self.page_context(request, "django-dbopt overview", **overview_context(request))
        return TemplateResponse(request, "django_dbopt/overview/page.html", context)


@admin.register(Alert)
class AlertAdmin(ReadOnlyReportAdmin[Alert]):
    list_display = ("fired_at", "state", "severity", "rule", "subject", "message", "evidence_link")
    list_filter = ("severity", "rule", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("rule", "subject", "message", "evidence")
    date_hierarchy = "fired_at"
    readonly_fields = [f.name for f in Alert._meta.fields]

    @admin.display(description="state", ordering="resolved_at")
    def state(self, obj: Alert) -> str:
        return "firing" if obj.firing else f"resolved {obj.resolved_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="evidence")
    def evidence_link(self, obj: Alert) -> Any:
        from django.utils.html import format_html

        if obj.url:
            return format_html('<a href="{}">{}</a>', obj.url, obj.evidence or "open")
        return obj.evidence
