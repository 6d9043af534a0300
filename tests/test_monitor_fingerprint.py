"""Fingerprints collapse values, list lengths, savepoint and cursor names."""

from __future__ import annotations

import pytest

from django_dbopt.monitor.fingerprint import fingerprint, normalize


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('SELECT * FROM "t" WHERE "id" = %s', 'SELECT * FROM "t" WHERE "id" = 42'),
        ("SELECT * FROM t WHERE name = 'bob'", "SELECT * FROM t WHERE name = 'it''s'"),
        ("SELECT * FROM t WHERE id IN (%s, %s)", "SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5)"),
        ("INSERT INTO t (a) VALUES (%s)", "INSERT INTO t (a) VALUES (%s), (%s), (%s)"),
        ('SAVEPOINT "s1403_x1"', 'SAVEPOINT "s99_x12"'),
        ('RELEASE SAVEPOINT "s1_x1"', 'RELEASE SAVEPOINT "s2_x7"'),
        ('ROLLBACK TO SAVEPOINT "s1_x1"', 'ROLLBACK TO SAVEPOINT "s2_x7"'),
        (
            'DECLARE "_django_curs_140_sync_1" CURSOR FOR SELECT 1',
            'DECLARE "_django_curs_9_sync_2" CURSOR FOR SELECT 2',
        ),
        ("SELECT a FROM t WHERE x = $1 -- caller", "SELECT a\n  FROM t /* other */ WHERE x = $2"),
        ("SELECT a FROM t LIMIT 21", "SELECT a FROM t LIMIT 5;"),
    ],
)
def test_same_shape_same_fingerprint(a: str, b: str) -> None:
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SELECT a FROM t WHERE x = %s", "SELECT b FROM t WHERE x = %s"),
        ("SELECT a FROM t WHERE x IS NULL", "SELECT a FROM t WHERE x = %s"),
        ("SELECT a FROM t1 WHERE x = 1", "SELECT a FROM t2 WHERE x = 1"),
    ],
)
def test_different_shapes_differ(a: str, b: str) -> None:
    assert fingerprint(a).id != fingerprint(b).id


def test_identifiers_with_digits_are_kept() -> None:
    assert normalize('SELECT "t2"."col1" FROM "t2" WHERE "t2"."v3" = 7') == (
        'SELECT "t2"."col1" FROM "t2" WHERE "t2"."v3" = ?'
    )


def test_no_values_survive() -> None:
    shape = normalize("SELECT * FROM u WHERE email = 'secret@example.com' AND pin = 1234")
    assert "secret" not in shape
    assert "1234" not in shape
