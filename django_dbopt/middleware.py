"""``QueryMonitorMiddleware``: one monitor scope per request (sync and async)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from django_dbopt.conf import get_config
from django_dbopt.monitor import flush
from django_dbopt.monitor.capture import finish_scope, new_scope
from django_dbopt.monitor.scope import current


def view_name(request: HttpRequest) -> str:
    """The label a request's queries are grouped under: the URL name, else the view path."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return "(no view)"
    return match.view_name or match._func_path


class QueryMonitorMiddleware:
    """Put it early in ``MIDDLEWARE`` so the other middlewares' queries are included."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        if not get_config().monitor.enabled:
            raise MiddlewareNotUsed("DBOPT['MONITOR']['ENABLED'] is False")
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        scope = new_scope(view_name(request))
        token = current.set(scope)
        try:
            response: HttpResponseBase = self.get_response(request)
        finally:
            current.reset(token)
            finish_scope(scope)
            flush.ensure_flusher()
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        scope = new_scope(view_name(request))
        token = current.set(scope)
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            return await get_response(request)
        finally:
            current.reset(token)
            finish_scope(scope)
            flush.ensure_flusher()
