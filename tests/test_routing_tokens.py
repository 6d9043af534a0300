"""Read-your-writes tokens: signing, expiry, cluster and timeline checks."""

from __future__ import annotations

import pytest
from django.core import signing

from django_dbopt.routing import tokens
from django_dbopt.routing.tokens import Identity, Position


def test_lsn_round_trip_and_order() -> None:
    assert tokens.parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert tokens.format_lsn(tokens.parse_lsn("16/B374D848")) == "16/B374D848"
    assert tokens.parse_lsn("0/FFFFFFFF") < tokens.parse_lsn("1/0")


def test_token_round_trip_and_tampering() -> None:
    positions = {"default": Position(123, "7001", 1)}
    value = tokens.dumps(positions)
    assert tokens.loads(value, 60) == positions
    assert tokens.loads(value[:-2] + "xx", 60) == {}
    assert tokens.loads(signing.dumps({"default": [1, None, 1]}, salt="other"), 60) == {}
    assert tokens.loads(signing.dumps({"default": "nope"}, salt=tokens.SALT), 60) == {}
    assert tokens.loads(signing.dumps([1, 2], salt=tokens.SALT), 60) == {}


def test_valid_positions_drops_foreign_clusters_and_timelines() -> None:
    identities = {"default": Identity("7001", 2)}
    positions = {
        "default": Position(5, "7001", 2),
        "unknown-primary": Position(5, "7001", 2),
    }
    assert tokens.valid_positions(positions, identities, {"default"}) == {
        "default": Position(5, "7001", 2)
    }
    for bad in (Position(5, "8002", 2), Position(5, "7001", 1)):
        assert tokens.valid_positions({"default": bad}, identities, {"default"}) == {}
    # identity not known yet: honoured (it can only send reads to the primary)
    assert tokens.valid_positions({"default": bad}, {}, {"default"}) == {"default": bad}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (Position(10, "1", 1), Position(5, "1", 1), True),
        (Position(5, "1", 1), Position(10, "1", 1), False),
        (Position(1, "1", 2), Position(10, "1", 1), True),
    ],
)
def test_supersedes(a: Position, b: Position, expected: bool) -> None:
    assert a.supersedes(b) is expected
