"""The monitor's admin pages (staff only), hung off the ``MonitorPage`` placeholder.

- queries: fingerprints, filtered (view, database, period, django-dbopt's own queries,
  commands), sorted by any column, paged;
- a fingerprint: normalized SQL (wrapped, highlighted), per-view numbers, latency
  histogram and history (inline SVG), the plan as a tree with its findings, index advice
  (EXPLAIN and HypoPG run only when asked: a POST by a user with ``run_explain``);
- N+1 findings; index advice (with unused and duplicate indexes).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connections
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_dbopt.admin_pages import ReportPageAdmin, can_run_explain
from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor import advice, index_usage, pages, plan_tree, plans
from django_dbopt.monitor.chart import histogram_chart
from django_dbopt.monitor.flush import flush_now, store_errors
from django_dbopt.monitor.models import MonitorPage
from django_dbopt.monitor.report import parse_since, plan_of, stats_row
from django_dbopt.monitor.scope import suppressed
from django_dbopt.monitor.sql_html import highlight_sql
from django_dbopt.monitor.store import get_store, merge_by


def _errors() -> tuple[type[BaseException], ...]:
    return (ServiceUnavailable, *store_errors())


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
        loaded = self._load(context)
        context.update(pages.queries_context(request, loaded))
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
            can_run_explain=can_run_explain(request),
            sql_html=highlight_sql(merged.fingerprint.sql) if merged else "",
            **self._history(fingerprint, context),
        )
        if merged and request.method != "POST":
            token = suppressed.set(True)
            try:
                context["plan"] = plans.cached_plan(fingerprint, merged.alias)
            except _errors() as e:
                context["plan"] = {"error": str(e)}
            finally:
                suppressed.reset(token)
        if request.method == "POST":
            self.require_explain(request)
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
        plan = context.get("plan") or {}
        context["plan_rows"] = plan_tree.plan_rows(plan.get("plan"), plan.get("findings") or [])
        context["plan_json"] = json.dumps(plan.get("plan"), indent=2) if plan.get("plan") else ""
        return self._render(request, "detail.html", context)

    def _history(self, fingerprint: str, context: dict[str, Any]) -> dict[str, Any]:
        try:
            return pages.history_chart(fingerprint, context["since"])
        except _errors() as e:
            context["store_error"] = str(e)
            return {}

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
        run = request.method == "POST"
        if run:
            self.require_explain(request)
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
            if run:  # EXPLAIN and HypoPG: only when asked, by someone allowed to
                context["advice"] = [
                    a.as_dict()
                    for a in advice.advise(context["since"], context["view_filter"], 20)
                ]
            context["can_run_explain"] = can_run_explain(request)
            context["hypopg"] = index_usage.hypopg_status(using)
            context["usage"] = index_usage.unused_indexes(using)
            context["duplicate"] = index_usage.duplicate_indexes(using)
        except _errors() as e:
            context["store_error"] = str(e)
        finally:
            suppressed.reset(token)
        return self._render(request, "advice.html", context)
