"""Admin pages for stored benchmark runs (staff only, read-only): the history with a
latency trend chart, and each run's report with its latency histograms."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReadOnlyReportAdmin
from django_dbopt.benchmark.chart import trend_chart
from django_dbopt.benchmark.models import BenchmarkRun
from django_dbopt.monitor import histogram
from django_dbopt.monitor.chart import histogram_chart

TREND_RUNS = 30


@admin.register(BenchmarkRun)
class BenchmarkRunAdmin(ReadOnlyReportAdmin[BenchmarkRun]):
    list_display = ("id", "created_at", "label", "preset", "grade", "regressions", "duration_s")
    list_filter = ("preset", "grade")
    change_list_template = "django_dbopt/benchmark/change_list.html"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        runs = list(BenchmarkRun.objects.all()[:TREND_RUNS])
        context = {"trend": trend_chart(runs), "trend_p50": trend_chart(runs, "p50")}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        run = get_object_or_404(BenchmarkRun, pk=object_id)
        workloads = []
        for w in run.report.get("workloads", []):
            chart = (
                None
                if "histogram" not in w
                else histogram_chart(histogram.from_json(w["histogram"]))
            )
            workloads.append({**w, "chart": chart})
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "opts": self.model._meta,
            "run": run,
            "report": run.report,
            "workloads": workloads,
        }
        return TemplateResponse(request, "django_dbopt/benchmark/run.html", context)
