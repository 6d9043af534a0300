"""Read-your-writes positions and the signed tokens that carry them.

A ``Position`` is a WAL location on one cluster's timeline: the primary's
``pg_current_wal_lsn()`` read after a commit, tagged with the cluster's system identifier
(``pg_control_system()``) and timeline. A replica may serve a client holding a position
once its ``pg_last_wal_replay_lsn()`` has reached it.

Tokens are ``django.core.signing`` strings (salted, timestamped): a tampered or expired
token fails to load and is ignored; a position from another cluster or timeline is
dropped by ``valid_positions()``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core import signing

logger = logging.getLogger("django_dbopt.routing")

SALT = "django_dbopt.routing.lsn"
#: the position recorded when the primary's WAL location could not be read after a
#: commit: no replica can reach it, so the client reads from the primary until expiry
UNREACHABLE_LSN = 2**64 - 1


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` -> an int that orders like the ``pg_lsn`` it came from."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class Identity:
    """Which cluster and timeline a primary is on."""

    system_id: str | None
    timeline: int | None


@dataclass(frozen=True)
class Position:
    lsn: int
    system_id: str | None = None
    timeline: int | None = None

    def supersedes(self, other: Position) -> bool:
        if (self.timeline or 0) != (other.timeline or 0):
            return (self.timeline or 0) > (other.timeline or 0)
        return self.lsn > other.lsn


def dumps(positions: dict[str, Position]) -> str:
    payload = {alias: [p.lsn, p.system_id, p.timeline] for alias, p in positions.items()}
    return signing.dumps(payload, salt=SALT, compress=False)


def loads(token: str, max_age: int) -> dict[str, Position]:
    """The positions in ``token``; empty when it is tampered, expired or malformed."""
    try:
        payload: Any = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        logger.info("ignored a read-your-writes token with a bad signature or expired")
        return {}
    positions: dict[str, Position] = {}
    if not isinstance(payload, dict):
        return positions
    for alias, value in payload.items():
        if not (isinstance(alias, str) and isinstance(value, list) and len(value) == 3):
            continue
        lsn, system_id, timeline = value
        if (
            isinstance(lsn, int)
            and 0 <= lsn <= UNREACHABLE_LSN
            and (system_id is None or isinstance(system_id, str))
            and (timeline is None or isinstance(timeline, int))
        ):
            positions[alias] = Position(lsn, system_id, timeline)
    return positions


def valid_positions(
    positions: dict[str, Position], identities: dict[str, Identity], primaries: set[str]
) -> dict[str, Position]:
    """Drop positions for unknown primaries and for another cluster or timeline.

    When a primary's identity is not known yet the position is kept: honouring it only
    sends the client's reads to the primary, which is always correct.
    """
    kept = {}
    for alias, position in positions.items():
        if alias not in primaries:
            continue
        identity = identities.get(alias)
        if identity is not None and (
            (identity.system_id and position.system_id != identity.system_id)
            or (identity.timeline and position.timeline != identity.timeline)
        ):
            logger.info(
                "ignored a read-your-writes position for %s from another cluster or timeline",
                alias,
            )
            continue
        kept[alias] = position
    return kept
