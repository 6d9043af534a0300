"""The base of django-dbopt's admin pages for data that is not a model.

Each page hangs off an unmanaged placeholder model (``managed = False``,
``default_permissions = ()``) so that it appears in the admin index; its ``ModelAdmin``
subclasses ``ReportPageAdmin``, which makes it read-only, visible to active staff users
with the ``django_dbopt.view_reports`` permission (superusers have it), and routes the
model's changelist URL (the admin index's link) to ``page_view``. Actions that run
EXPLAIN or HypoPG also need ``django_dbopt.run_explain`` and a POST (CSRF-checked).
Extra views go in ``extra_urls()``, wrapped in ``admin_site.admin_view`` like the main
one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

_M = TypeVar("_M", bound=Model)

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin
else:
    # django-stubs makes ModelAdmin generic for type checkers only: at run time (without
    # django-stubs-ext's monkeypatch, which a user's project does not call) it cannot be
    # subscripted, so the generic parameter comes from typing.Generic instead.
    class _ModelAdmin(admin.ModelAdmin, Generic[_M]):
        pass


#: ``admin.ModelAdmin`` that can be subscripted at run time (``GenericModelAdmin[Alert]``)
#: in a project without django-stubs-ext: every ModelAdmin of django-dbopt derives from it.
GenericModelAdmin = _ModelAdmin


VIEW_REPORTS = "django_dbopt.view_reports"
RUN_EXPLAIN = "django_dbopt.run_explain"


def can_view_reports(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(VIEW_REPORTS))


def can_run_explain(request: HttpRequest) -> bool:
    return can_view_reports(request) and request.user.has_perm(RUN_EXPLAIN)


class ReportPageAdmin(_ModelAdmin[_M]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def extra_urls(self) -> list[URLPattern]:
        return []

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        return [
            path(
                "",
                self.admin_site.admin_view(self._checked_page_view),
                name=f"{opts.app_label}_{opts.model_name}_changelist",
            ),
            *self.extra_urls(),
        ]

    def _checked_page_view(self, request: HttpRequest) -> HttpResponse:
        self.require_view(request)
        return self.page_view(request)

    def page_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            **extra,
        }

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view_reports(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view_reports(request)

    def require_view(self, request: HttpRequest) -> None:
        if not can_view_reports(request):
            raise PermissionDenied

    def require_explain(self, request: HttpRequest) -> None:
        if request.method != "POST" or not can_run_explain(request):
            raise PermissionDenied

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyReportAdmin(GenericModelAdmin[_M]):
    """Stored reports (alerts, benchmark runs): read with ``view_reports``, deleted by
    superusers, never added or edited by hand."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view_reports(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view_reports(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)
