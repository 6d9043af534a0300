"""The base of django-dbopt's admin pages for data that is not a model.

Each page hangs off an unmanaged placeholder model (``managed = False``,
``default_permissions = ()``) so that it appears in the admin index; its ``ModelAdmin``
subclasses ``ReportPageAdmin``, which makes it staff-only and read-only and routes the
model's changelist URL (the admin index's link) to ``page_view``. Extra views go in
``extra_urls()``, wrapped in ``admin_site.admin_view`` like the main one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib import admin
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
                self.admin_site.admin_view(self.page_view),
                name=f"{opts.app_label}_{opts.model_name}_changelist",
            ),
            *self.extra_urls(),
        ]

    def page_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            **extra,
        }

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
