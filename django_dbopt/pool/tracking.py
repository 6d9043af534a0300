"""Checkout tracking: who holds each pooled connection, since when, taken where.

A pooled connection is *leaked* when it is

- held longer than ``DBOPT['POOL']['LEAK_THRESHOLD_S']`` outside a transaction (an open
  transaction is long work, not a leak), or
- still held by another thread when the request that took it finishes (Django returns
  the request thread's own connections at ``request_finished``; a thread the view
  started does not).

Each leak is reported once: a warning on the ``django_dbopt.pool`` logger, a counter in
the pool's stats and the ``connection_leaked`` signal, all naming the file, line and
function that took the connection (the first frame outside Django, psycopg and
django-dbopt) and the thread holding it.

Recording a checkout costs a frame walk and a dict insert (see
``benchmarks/pool_throughput.py``); nothing is formatted until a leak is reported.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from types import FrameType
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from django_dbopt.signals import connection_leaked

logger = logging.getLogger("django_dbopt.pool")

#: set for the duration of a request (``request_started`` .. ``request_finished``)
current_request: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "django_dbopt_pool_request", default=None
)


def _skipped_prefixes() -> tuple[str, ...]:
    """Folders whose frames are not "where the connection was taken": the libraries on
    the connect path, django-dbopt itself and the standard library."""
    dirs = [os.path.dirname(contextlib.__file__ or "")]
    for name in ("django", "psycopg", "psycopg_pool", "asgiref", "django_dbopt"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        dirs.append(os.path.dirname(module.__file__ or ""))
    return tuple(d + os.sep for d in dirs if d)


_SKIP = _skipped_prefixes()


def _internal_prefixes() -> tuple[str, ...]:
    """The connect path proper: frames there are never a call site, even as a fallback."""
    dirs = [os.path.dirname(contextlib.__file__ or "")]
    internal = ("django.db", "django.utils", "django.test", "psycopg", "psycopg_pool")
    for name in (*internal, "django_dbopt.pool"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        dirs.append(os.path.dirname(module.__file__ or ""))
    return tuple(d + os.sep for d in dirs if d)


_INTERNAL = _internal_prefixes()


class Checkout:
    """One connection handed out by a pool and not returned yet."""

    __slots__ = (
        "conn",
        "filename",
        "function",
        "lineno",
        "reported",
        "request",
        "since",
        "thread",
    )

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.since = time.monotonic()
        self.thread = threading.current_thread().name
        self.request = current_request.get()
        self.reported = False
        frame: FrameType | None = sys._getframe(2)
        fallback: FrameType | None = None  # the first frame outside the connect path
        while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
            if fallback is None and not frame.f_code.co_filename.startswith(_INTERNAL):
                fallback = frame
            frame = frame.f_back
        # no application frame (Django's own middleware, django-dbopt's own pages, a
        # thread started by a library): the library frame that asked, else unknown
        frame = frame or fallback
        self.filename: str | None = None if frame is None else frame.f_code.co_filename
        self.lineno: int = 0 if frame is None else frame.f_lineno
        self.function: str = "" if frame is None else frame.f_code.co_name

    @property
    def location(self) -> str:
        if self.filename is None:
            return "unknown"
        return f"{self.filename}:{self.lineno} in {self.function}()"

    @property
    def in_transaction(self) -> bool:
        try:
            status = self.conn.pgconn.transaction_status
        except psycopg.OperationalError:  # closed meanwhile by its thread
            return False
        return bool(status in (TransactionStatus.INTRANS, TransactionStatus.INERROR))

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "thread": self.thread,
            "held_s": round(now - self.since, 3),
            "location": self.location,
            "in_transaction": self.in_transaction,
            "reported": self.reported,
        }


class CheckoutTracker:
    """The checkouts of one pool. Thread-safe: dict operations are atomic under the GIL."""

    def __init__(self, alias: str, threshold_s: float) -> None:
        self.alias = alias
        self.threshold_s = threshold_s
        self.held: dict[int, Checkout] = {}
        self.peak = 0
        self.counters: Counter[str] = Counter()
        self._next_sweep = 0.0

    def checkout(self, conn: Any) -> None:
        self.held[id(conn)] = Checkout(conn)
        self.counters["checkouts"] += 1
        if len(self.held) > self.peak:
            self.peak = len(self.held)

    def checkin(self, conn: Any) -> None:
        self.held.pop(id(conn), None)

    def snapshot(self) -> list[Checkout]:
        return list(self.held.values())

    def maybe_sweep(self, now: float) -> None:
        """Sweep at most a few times per threshold (called on the checkout path)."""
        if now >= self._next_sweep:
            self._next_sweep = now + max(self.threshold_s / 4, 0.01)
            self.sweep(now)

    def sweep(self, now: float | None = None) -> list[Checkout]:
        """Report connections held past the threshold outside a transaction."""
        now = time.monotonic() if now is None else now
        found = []
        for item in self.snapshot():
            if (
                not item.reported
                and now - item.since >= self.threshold_s
                and not item.in_transaction
            ):
                self.report(item, "held_too_long", now)
                found.append(item)
        return found

    def request_finished(self, request: object) -> list[Checkout]:
        """Report connections taken during ``request`` that another thread still holds."""
        me = threading.current_thread().name
        found = []
        for item in self.snapshot():
            if item.request is request and not item.reported:
                if item.thread == me and not item.in_transaction:
                    continue  # Django's own request-thread connection: returned by Django
                self.report(item, "request_end", time.monotonic())
                found.append(item)
        return found

    def report(self, item: Checkout, kind: str, now: float) -> None:
        item.reported = True
        held_s = now - item.since
        self.counters[f"leaks_{kind}"] += 1
        why = (
            f"held for {held_s:.1f} s outside a transaction"
            if kind == "held_too_long"
            else "still held when the request that took it finished"
        )
        logger.warning(
            "Pooled connection of database %r %s; taken at %s by thread %s.",
            self.alias,
            why,
            item.location,
            item.thread,
        )
        connection_leaked.send(
            sender=CheckoutTracker,
            alias=self.alias,
            kind=kind,
            held_s=held_s,
            location=item.location,
            filename=item.filename,
            lineno=item.lineno,
            function=item.function,
            thread=item.thread,
        )

    def describe_holders(self, limit: int = 5) -> Iterator[str]:
        now = time.monotonic()
        items = sorted(self.snapshot(), key=lambda c: c.since)
        for item in items[:limit]:
            yield f"{item.thread} for {now - item.since:.1f} s, taken at {item.location}"
        if len(items) > limit:
            yield f"... and {len(items) - limit} more"
