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
        try:
            from django_dbopt.cache.report import stats  # needs the redis extra
        except ModuleNotFoundError as e:
            return self._render(
                request, None, f"it needs {e.name}, which is not installed (django-dbopt[redis])"
            )
        try:
            data: dict[str, Any] | None = stats()
            problem = None
        except ImproperlyConfigured as e:
            data, problem = None, str(e)
        return self._render(request, data, problem)

    def _render(
        self, request: HttpRequest, data: dict[str, Any] | None, problem: str | None
    ) -> HttpResponse:
        scope = None
        if data is not None:
            scope = data["all_processes"] or data["process"]
        context = self.page_context(
            request, "Two-tier cache", stats=data, scope=scope, problem=problem
        )
        return TemplateResponse(request, "django_dbopt/cache/stats.html", context)
