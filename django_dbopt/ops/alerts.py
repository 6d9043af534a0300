"""Evaluating the alert rules, off the request path.

``maybe_evaluate()`` is called by the monitor's flush thread after each flush and runs
the rules every ``ALERTS.INTERVAL_S``; ``evaluate()`` runs them now (the
``dbopt_alerts --evaluate`` command and the ``django_dbopt.ops.evaluate_alerts`` Celery
task, for sites that prefer Celery beat).

A condition must hold for the rule's ``FOR_S`` before the alert fires (tracked in the
evaluating process); it resolves at the first evaluation where it no longer holds.
Firing inserts an ``Alert`` row; a partial unique constraint keeps one open alert per
rule and subject, so when several processes evaluate, exactly one notifies.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from django_dbopt.conf import get_config
from django_dbopt.exceptions import ServiceUnavailable
from django_dbopt.monitor.scope import suppressed
from django_dbopt.ops.alert_rules import Rule, configured_rules, measure_function
from django_dbopt.ops.delivery import notify
from django_dbopt.ops.measures import Measurement

logger = logging.getLogger("django_dbopt.alerts")

_lock = threading.Lock()
_pending: dict[tuple[str, str], float] = {}  # (rule, subject) -> when it began to hold
_last_run = 0.0


def _errors() -> tuple[type[BaseException], ...]:
    from django_dbopt.monitor.flush import store_errors

    return (*store_errors(), ServiceUnavailable, ImproperlyConfigured)


def maybe_evaluate() -> None:
    """Evaluate when ``INTERVAL_S`` has passed since the last run in this process."""
    global _last_run
    config = get_config().alerts
    if not config.enabled or time.monotonic() - _last_run < config.interval_s:
        return
    evaluate()


def evaluate() -> dict[str, list[str]]:
    """Run every enabled rule once; ``{"fired": [...], "resolved": [...]}``."""
    global _last_run
    done: dict[str, list[str]] = {"fired": [], "resolved": []}
    token = suppressed.set(True)  # alert queries are not the application's
    try:
        with _lock:
            _last_run = time.monotonic()
            for rule in configured_rules():
                if rule.enabled:
                    _evaluate_rule(rule, done)
    finally:
        suppressed.reset(token)
    return done


def _evaluate_rule(rule: Rule, done: dict[str, list[str]]) -> None:
    measure = measure_function(rule)
    if measure is None:
        return
    try:
        measurements: list[Measurement] = list(measure())
    except _errors() as e:
        logger.warning("alert rule %s: cannot measure: %s", rule.name, e)
        return
    now = time.monotonic()
    for m in measurements:
        key = (rule.name, m.subject)
        try:
            if rule.breached(m.value):
                began = _pending.setdefault(key, now)
                if now - began >= rule.for_s and _fire(rule, m):
                    done["fired"].append(f"{rule.name}:{m.subject}")
            else:
                _pending.pop(key, None)
                if _resolve(rule, m):
                    done["resolved"].append(f"{rule.name}:{m.subject}")
        except DatabaseError as e:
            logger.warning("alert rule %s: cannot record: %s", rule.name, e)


def _model() -> Any:
    from django_dbopt.ops.models import Alert

    return Alert


def _fire(rule: Rule, m: Measurement) -> bool:
    Alert = _model()
    using = router.db_for_write(Alert)
    open_alerts = Alert.objects.using(using).filter(
        rule=rule.name, subject=m.subject, resolved_at__isnull=True
    )
    if open_alerts.update(last_value=m.value):
        return False  # already firing
    op = ">" if rule.above else "<"
    unit = f" {rule.unit}" if rule.unit else ""
    alert = Alert(
        rule=rule.name,
        subject=m.subject,
        severity=rule.severity,
        threshold=rule.threshold,
        value=m.value,
        last_value=m.value,
        message=f"{rule.summary} of {m.subject}: {m.value:.4g}{unit} "
        f"{op} {rule.threshold:g}{unit} for {rule.for_s:g} s",
        evidence=m.evidence,
        url=m.url,
        fired_at=timezone.now(),
    )
    try:
        with transaction.atomic(using=using):
            alert.save(using=using)
    except IntegrityError:
        return False  # another process fired it first
    notify(alert, "fired")
    return True


def _resolve(rule: Rule, m: Measurement) -> bool:
    Alert = _model()
    using = router.db_for_write(Alert)
    alert = (
        Alert.objects.using(using)
        .filter(rule=rule.name, subject=m.subject, resolved_at__isnull=True)
        .first()
    )
    if alert is None:
        return False
    updated = (
        Alert.objects.using(using)
        .filter(pk=alert.pk, resolved_at__isnull=True)
        .update(resolved_at=timezone.now(), last_value=m.value)
    )
    if not updated:
        return False  # another process resolved it
    alert.refresh_from_db(using=using)
    notify(alert, "resolved")
    return True


def reset() -> None:
    """Forget pending conditions and the last run time (tests, settings changes)."""
    global _last_run
    with _lock:
        _pending.clear()
        _last_run = 0.0
