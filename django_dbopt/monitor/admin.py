"""The monitor's admin pages (staff only), hung off the ``MonitorPage`` placeholder.

- queries: fingerprints, sortable by total time, p95, calls, max, slow;
- a fingerprint: normalized SQL, per-view numbers, latency histogram (inline SVG),
  plan and its findings, index advice (EXPLAIN and HypoPG run only when asked: POST);
- N+1 findings; index advice (with unused and duplicate indexes).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connections
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_dbopt.admin_pages import ReportPageAdmin
from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor import advice, indexes, plans
from django_dbopt.monitor.chart import histogram_chart
from django_dbopt.monitor.flush import flush_now, store_errors
from django_dbopt.monitor.models import MonitorPage
from django_dbopt.monitor.report import fingerprint_rows, parse_since, plan_of, stats_row
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.store import get_store, merge_by


def _errors() -> tuple[type[BaseException], ...]:
    return (ServiceUnavailable, *store_errors())


SORTS = {"total": "total_ms", "p95": "p95_ms", "calls": "calls", "max": "max_ms", "slow": "slow"}


@admin.register(MonitorPage)
class MonitorAdmin(ReportPageAdmin[MonitorPage]):
    def extra_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.queries_view), name="dbopt_monitor_queries"),
            path("fp/<str:fingerprint>/", wrap(self.detail_view), name="dbopt_monitor_detail"),
            path("nplusone/", wrap(self.nplusone_view), name="dbopt_monitor_nplusone"),
            path("advice/", wrap(self.advice_view), name="dbopt_monitor_advice"),
        ]

    def page_view(self, request: HttpRequest) -> HttpResponse:
        return self.queries_view(request)

    # -- helpers -----------------------------------------------------------------------
    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        since_text = request.GET.get("since", "24h")
        try:
            since = parse_since(since_text)
        except ValueError:
            since, since_text = parse_since("24h"), "24h"
        return self.page_context(
            request,
            title,
            since=since,
            since_text=since_text,
            view_filter=request.GET.get("view") or None,
            **extra,
        )

    def _render(
        self, request: HttpRequest, template: str, context: dict[str, Any]
    ) -> HttpResponse:
        return TemplateResponse(request, f"django_dbopt/monitor/{template}", context)

    def _load(self, context: dict[str, Any]) -> dict[Any, Any] | None:
        token = suppressed.set(True)
        try:
            flush_now()
            return get_store().load(context["since"], context["view_filter"])
        except _errors() as e:
            context["store_error"] = str(e)
            return None
        finally:
            suppressed.reset(token)

    # -- pages -------------------------------------------------------------------------
    def queries_view(self, request: HttpRequest) -> HttpResponse:
        context = self._context(request, "Queries")
        sort = request.GET.get("o", "total")
        loaded = self._load(context)
        rows = fingerprint_rows(loaded) if loaded else []
        key = SORTS.get(sort, "total_ms")
        rows.sort(key=lambda r: -(r[key] or 0))
        context.update(rows=rows[:200], sort=sort, sorts=list(SORTS))
        return self._render(request, "queries.html", context)

    def detail_view(self, request: HttpRequest, fingerprint: str) -> HttpResponse:
        context = self._context(request, f"Fingerprint {fingerprint}")
        loaded = self._load(context) or {}
        mine = {k: v for k, v in loaded.items() if k[0] == fingerprint}
        if not mine and "store_error" not in context:
            raise Http404("No data for this fingerprint in the chosen period.")
        merged = merge_by(mine.items(), by_view=False).get(fingerprint)
        context.update(
            fingerprint=fingerprint,
            row=stats_row(merged) if merged else None,
            per_view=[{"view": view, **stats_row(s)} for (_, view), s in sorted(mine.items())],
            chart=histogram_chart(merged.hist) if merged else None,
        )
        if merged and request.method != "POST":
            token = suppressed.set(True)
            try:
                context["plan"] = plans.cached_plan(fingerprint, merged.alias)
            except _errors() as e:
                context["plan"] = {"error": str(e)}
            finally:
                suppressed.reset(token)
        if merged and request.method == "POST":
            token = suppressed.set(True)
            try:
                sql, alias = merged.fingerprint.sql, merged.alias
                context["plan"] = plan_of(fingerprint, sql, alias, refresh=True)
                context["advice"] = [
                    a.as_dict()
                    for a in advice.advise_query(
                        fingerprint, sql, alias, merged.calls, merged.total_ns / 1e6
                    )
                ]
            except DatabaseError as e:
                context["plan"] = {"error": str(e)}
            finally:
                suppressed.reset(token)
        return self._render(request, "detail.html", context)

    def nplusone_view(self, request: HttpRequest) -> HttpResponse:
        context = self._context(request, "N+1 findings")
        token = suppressed.set(True)
        try:
            flush_now()
            context["findings"] = get_store().findings(context["since"], context["view_filter"])
        except _errors() as e:
            context["store_error"], context["findings"] = str(e), []
        finally:
            suppressed.reset(token)
        return self._render(request, "nplusone.html", context)

    def advice_view(self, request: HttpRequest) -> HttpResponse:
        context = self._context(request, "Index advice")
        using = request.GET.get("database", "default")
        if using not in connections:
            raise Http404("Unknown database alias.")
        context["database"] = using
        if connections[using].vendor != "postgresql":
            context["unavailable"] = f"Index advice needs PostgreSQL; {using!r} is not."
            return self._render(request, "advice.html", context)
        token = suppressed.set(True)
        try:
            flush_now()
            context["advice"] = [
                a.as_dict() for a in advice.advise(context["since"], context["view_filter"], 20)
            ]
            context["unused"] = indexes.unused_indexes(using)
            context["duplicate"] = indexes.duplicate_indexes(using)
        except _errors() as e:
            context["store_error"] = str(e)
        finally:
            suppressed.reset(token)
        return self._render(request, "advice.html", context)
