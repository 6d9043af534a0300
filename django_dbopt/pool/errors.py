"""Errors raised when a pooled connection cannot be handed out.

Both are ``psycopg.OperationalError`` subclasses, so Django wraps them into
``django.db.OperationalError`` (with the original as ``__cause__``) exactly as it wraps
the pool's own timeout: code that already handles an unreachable database keeps working.
They are also ``django_dbopt.exceptions.ServiceUnavailable``.
"""

from __future__ import annotations

import psycopg

from django_dbopt.exceptions import ServiceUnavailable


class PoolExhausted(ServiceUnavailable, psycopg.OperationalError):
    """Every connection of the pool is checked out and none came back in time."""


class PoolUnavailable(ServiceUnavailable, psycopg.OperationalError):
    """The pool's breaker is open: connecting failed repeatedly, so calls fail at once."""
