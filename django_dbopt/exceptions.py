"""The exceptions django-dbopt raises. Catch ``DbOptError`` to catch them all."""

from __future__ import annotations


class DbOptError(Exception):
    """Base class of every django-dbopt error."""


class ServiceUnavailable(DbOptError):
    """A service a feature needs (PostgreSQL, Redis, S3) cannot be reached."""


class UnsafeQuery(DbOptError):
    """A statement was refused because running it could change data (e.g. EXPLAIN of a write)."""


class NotSupported(DbOptError):
    """The feature needs a database engine or extension this alias does not have."""
