"""Sending the backup signals: a receiver that fails is logged, never breaks a backup."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("django_dbopt.backup")


def send(signal: Signal, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error("a backup signal receiver failed: %r: %s", receiver, result)
