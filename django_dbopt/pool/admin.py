"""Staff-only admin page: each pooled alias's numbers in this process, and advice."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReportPageAdmin
from django_dbopt.pool.models import ConnectionPool
from django_dbopt.pool.report import pool_report


@admin.register(ConnectionPool)
class ConnectionPoolAdmin(ReportPageAdmin[ConnectionPool]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
        report = pool_report()
        for item in report:
            stats = item["process"]
            if stats is not None and stats["pool_max"]:
                item["use_percent"] = round(100 * stats["in_use"] / stats["pool_max"])
                item["peak_percent"] = round(
                    100 * stats.get("peak_in_use", stats["in_use"]) / stats["pool_max"]
                )
        context = self.page_context(request, "Connection pools", report=report)
        return TemplateResponse(request, "django_dbopt/pool/pools.html", context)
