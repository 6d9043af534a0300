"""Staff-only admin page: the two-tier cache's measured stats per tier and per table."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_dbopt.cache.models import CacheStats


@admin.register(CacheStats)
class CacheStatsAdmin(admin.ModelAdmin[CacheStats]):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.stats_view)
        return [path("", view, name="django_dbopt_cachestats_changelist")]

    def stats_view(self, request: HttpRequest) -> HttpResponse:
        from django_dbopt.cache.report import stats  # needs the redis extra

        try:
            data: dict[str, Any] | None = stats()
            problem = None
        except ImproperlyConfigured as e:
            data, problem = None, str(e)
        scope = None
        if data is not None:
            scope = data["all_processes"] or data["process"]
        context = {
            **self.admin_site.each_context(request),
            "title": "Two-tier cache",
            "opts": self.model._meta,
            "stats": data,
            "scope": scope,
            "problem": problem,
        }
        return TemplateResponse(request, "django_dbopt/cache/stats.html", context)
