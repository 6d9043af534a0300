"""``ReadYourWritesMiddleware``: one routing scope per request, and the signed cookie.

On the way in, a valid cookie (signed, unexpired, same cluster and timeline) tells the
router which WAL position a replica must have replayed to serve this client. On the way
out, if the request committed writes, the primary's new position goes back in the cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from django_dbopt.conf import get_config
from django_dbopt.routing import tokens
from django_dbopt.routing.health import monitor
from django_dbopt.routing.scope import Scope, current_scope
from django_dbopt.routing.writes import flush_positions


class ReadYourWritesMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        scope = scope_for(request)
        token = current_scope.set(scope)
        try:
            response = self.get_response(request)
            flush_positions(scope)
        finally:
            current_scope.reset(token)
        return finish(scope, request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        scope = scope_for(request)
        token = current_scope.set(scope)
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            response = await get_response(request)
            if scope.dirty:
                await sync_to_async(flush_positions)(scope)
        finally:
            current_scope.reset(token)
        return finish(scope, request, response)


def scope_for(request: HttpRequest) -> Scope:
    """A new scope holding the valid positions of the request's cookie."""
    scope = Scope()
    config = get_config().routing
    value = request.COOKIES.get(config.cookie_name)
    if value:
        positions = tokens.valid_positions(
            tokens.loads(value, config.cookie_max_age_s),
            monitor.identities,
            set(config.replicas),
        )
        for primary, position in positions.items():
            scope.require(primary, position)
    return scope


def finish(scope: Scope, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if scope.recorded:
        config = get_config().routing
        response.set_cookie(
            config.cookie_name,
            tokens.dumps(scope.outgoing()),
            max_age=config.cookie_max_age_s,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response
