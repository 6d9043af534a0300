"""``{% dbopt_overview %}``: the overview tiles, for the admin's django-dbopt index."""

from __future__ import annotations

from typing import Any

from django import template

from django_dbopt.admin_pages import can_view_reports

register = template.Library()


@register.inclusion_tag("django_dbopt/overview/_tiles.html", takes_context=True)
def dbopt_overview(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not can_view_reports(request):
        return {"denied": True}
    from django_dbopt.ops.admin import overview_context

    return {"request": request, **overview_context(request)}
