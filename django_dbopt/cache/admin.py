"""Staff-only admin page: the two-tier cache's measured stats per tier and per table."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReportPageAdmin
from django_dbopt.cache.models import CacheStats


@admin.register(CacheStats)
class CacheStatsAdmin(ReportPageAdmin[CacheStats]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
        from django_dbopt.cache.report import stats  # needs the redis extra

        try:
            data: dict[str, Any] | None = stats()
            problem = None
        except ImproperlyConfigured as e:
            data, problem = None, str(e)
        scope = None
        if data is not None:
            scope = data["all_processes"] or data["process"]
        context = self.page_context(
            request, "Two-tier cache", stats=data, scope=scope, problem=problem
        )
        return TemplateResponse(request, "django_dbopt/cache/stats.html", context)
