"""Telling people about an alert: a signal, a structured log line, and optionally
``mail_admins`` and a webhook (``DBOPT['ALERTS']``: ``MAIL_ADMINS``, ``WEBHOOK_URL``).

Runs in the thread that evaluates the rules (never a request). A failing receiver, mail
server or webhook is logged and does not stop the others.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from typing import Any

from django.core.mail import mail_admins

from django_dbopt.conf import get_config
from django_dbopt.signals import alert_fired, alert_resolved

logger = logging.getLogger("django_dbopt.alerts")


def payload(alert: Any, kind: str) -> dict[str, Any]:
    return {
        "status": kind,
        "rule": alert.rule,
        "subject": alert.subject,
        "severity": alert.severity,
        "value": alert.last_value,
        "threshold": alert.threshold,
        "message": alert.message,
        "evidence": alert.evidence,
        "url": alert.url,
        "fired_at": alert.fired_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def notify(alert: Any, kind: str) -> None:
    """``kind`` is ``"fired"`` or ``"resolved"``."""
    data = payload(alert, kind)
    signal = alert_fired if kind == "fired" else alert_resolved
    for receiver, result in signal.send_robust(
        sender=type(alert), alert=alert, **{k: data[k] for k in _SIGNAL_KEYS}
    ):
        if isinstance(result, Exception):
            logger.error("alert receiver %r failed: %s", receiver, result)
    level = logging.WARNING if kind == "fired" else logging.INFO
    logger.log(
        level,
        "alert %s rule=%s subject=%s severity=%s value=%.6g threshold=%.6g evidence=%s",
        kind,
        alert.rule,
        alert.subject,
        alert.severity,
        alert.last_value,
        alert.threshold,
        alert.evidence,
        extra={f"alert_{k}": v for k, v in data.items()},
    )
    config = get_config().alerts
    if config.mail_admins:
        _mail(data)
    if config.webhook_url:
        _webhook(config.webhook_url, config.webhook_timeout_s, data)


_SIGNAL_KEYS = ("rule", "subject", "severity", "value", "threshold", "message", "evidence", "url")


def _mail(data: dict[str, Any]) -> None:
    subject = f"[{data['severity']}] {data['status']}: {data['message']}"
    body = "\n".join(f"{k}: {v}" for k, v in data.items())
    try:
        mail_admins(subject, body)
    except (OSError, smtplib.SMTPException) as e:
        logger.error("alert mail to ADMINS failed: %s", e)


def _webhook(url: str, timeout_s: float, data: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - a URL the site's settings give
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            response.read()
    except (OSError, urllib.error.URLError) as e:
        logger.error("alert webhook failed: %s", e)
