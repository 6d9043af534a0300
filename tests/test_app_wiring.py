"""``AppConfig.ready()`` wires every part through one ``connect()`` each: receivers carry a
``dispatch_uid`` under ``django_dbopt.<part>.``, connecting again adds nothing, importing
a module connects nothing, and every check is registered once, in one place."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Any

from django.core import checks
from django.core.signals import request_finished, request_started, setting_changed
from django.db.backends.signals import connection_created
from django.dispatch import Signal

from django_dbopt.cache import wiring as cache_wiring
from django_dbopt.checks import register_all
from django_dbopt.monitor import wiring as monitor_wiring
from django_dbopt.pool import wiring as pool_wiring
from django_dbopt.routing import wiring as routing_wiring

SIGNALS = (setting_changed, connection_created, request_started, request_finished)
ROOT = Path(__file__).resolve().parent.parent


def ours(signal: Signal) -> list[tuple[Any, str]]:
    """(lookup key, receiver's module) of django_dbopt's receivers of ``signal``."""
    found = []
    for lookup_key, receiver, *_ in signal.receivers:
        target = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        module = getattr(target, "__module__", "") or ""
        if module.startswith("django_dbopt."):
            found.append((lookup_key, module))
    return found


def test_every_receiver_has_a_dispatch_uid_of_its_part() -> None:
    for signal in SIGNALS:
        for (uid, _sender), module in ours(signal):
            assert isinstance(uid, str), f"{module} connected without dispatch_uid"
            part = module.split(".")[1]
            assert uid.startswith(f"django_dbopt.{part}."), (uid, module)


def test_connecting_again_adds_nothing() -> None:
    before = {signal: len(signal.receivers) for signal in SIGNALS}
    for connect in (
        pool_wiring.connect,
        routing_wiring.connect,
        monitor_wiring.connect,
        cache_wiring.connect,
    ):
        connect()
    assert {signal: len(signal.receivers) for signal in SIGNALS} == before


def test_checks_are_registered_once() -> None:
    registered = checks.registry.registry.get_checks()
    register_all()
    assert checks.registry.registry.get_checks() == registered
    names = [f.__name__ for f in registered if f.__module__.startswith("django_dbopt")]
    assert "check_cache" in names
    assert "check_settings" in names
    assert len(names) == len(set(names))


def test_importing_the_parts_connects_nothing() -> None:
    """Without ``ready()`` (no ``django.setup()``), importing every wiring module and the
    modules that used to connect at import time connects nothing (``conf.py``'s own
    ``setting_changed`` receiver, which clears the settings cache, is the one exception,
    as debug-toolbar's ``get_config()`` has)."""
    script = textwrap.dedent(
        """
        import weakref
        from django.conf import settings
        settings.configure(DATABASES={}, INSTALLED_APPS=[])
        import django_dbopt.conf
        from django.core.signals import setting_changed
        from django.db.backends.signals import connection_created
        def ours():
            found = []
            for signal in (setting_changed, connection_created):
                for _key, receiver, *_ in signal.receivers:
                    if isinstance(receiver, weakref.ReferenceType):
                        receiver = receiver()
                    module = getattr(receiver, "__module__", "") or ""
                    if module.startswith("django_dbopt.") and module != "django_dbopt.conf":
                        found.append(f"{module}.{receiver.__name__}")
            return found
        import django_dbopt.monitor.capture, django_dbopt.monitor.wiring
        import django_dbopt.routing.health, django_dbopt.routing.counters
        import django_dbopt.routing.wiring, django_dbopt.pool.wiring
        import django_dbopt.cache.state, django_dbopt.cache.generations
        import django_dbopt.cache.patches, django_dbopt.cache.wiring
        assert ours() == [], ours()
        from django.db.models import QuerySet
        assert not hasattr(QuerySet.get, "__wrapped__")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
