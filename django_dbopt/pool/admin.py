"""Staff-only admin page: each pooled alias's numbers in this process, and advice."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_dbopt.pool.models import ConnectionPool
from django_dbopt.pool.report import pool_report


@admin.register(ConnectionPool)
class ConnectionPoolAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "",
                self.admin_site.admin_view(self.pools_view),
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

    def pools_view(self, request: HttpRequest) -> HttpResponse:
        report = pool_report()
        for item in report:
            stats = item["process"]
            if stats is not None and stats["pool_max"]:
                item["use_percent"] = round(100 * stats["in_use"] / stats["pool_max"])
                item["peak_percent"] = round(
                    100 * stats.get("peak_in_use", stats["in_use"]) / stats["pool_max"]
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Connection pools",
            "opts": self.opts,
            "report": report,
        }
        return TemplateResponse(request, "django_dbopt/pool/pools.html", context)
