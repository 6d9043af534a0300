"""The rules: stable ids, severities and the safe alternative each one recommends.

A rule's severity is its base level; on PostgreSQL with live sizes, a finding of a
``size_weighted`` rule on a table at least ``BIG_TABLE_ROWS`` rows or ``BIG_TABLE_BYTES``
bytes goes up one level (the lock it takes lasts as long as the table is big).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> Severity:
        return cls[label.upper()]

    def raised(self) -> Severity:
        return Severity(min(self + 1, Severity.ERROR))


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    size_weighted: bool
    safe_alternative: str


_RULES = (
    Rule(
        "DBM001",
        "index built without CONCURRENTLY",
        Severity.WARNING,
        True,
        "Build it with django.contrib.postgres.operations.AddIndexConcurrently in a "
        "migration with `atomic = False`. For `db_index=True` on a field, use "
        "SeparateDatabaseAndState(state_operations=[the AddField/AlterField], "
        "database_operations=[RunSQL('CREATE INDEX CONCURRENTLY ...', "
        "reverse_sql='DROP INDEX CONCURRENTLY ...')]) in a non-atomic migration.",
    ),
    Rule(
        "DBM002",
        "foreign key validated while adding it",
        Severity.WARNING,
        True,
        "Add the field with `db_constraint=False` (or the constraint's state through "
        "SeparateDatabaseAndState), then RunSQL 'ALTER TABLE ... ADD CONSTRAINT ... "
        "FOREIGN KEY (...) REFERENCES ... NOT VALID', then in a later migration "
        "'ALTER TABLE ... VALIDATE CONSTRAINT ...' (takes only a SHARE UPDATE EXCLUSIVE lock).",
    ),
    Rule(
        "DBM003",
        "CHECK constraint validated while adding it",
        Severity.WARNING,
        True,
        "SeparateDatabaseAndState(state_operations=[AddConstraint(...)], "
        "database_operations=[RunSQL('ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) "
        "NOT VALID')]), then 'ALTER TABLE ... VALIDATE CONSTRAINT ...' in a later migration.",
    ),
    Rule(
        "DBM004",
        "NOT NULL set on an existing column",
        Severity.WARNING,
        True,
        "In steps: RunSQL 'ALTER TABLE ... ADD CONSTRAINT ..._notnull CHECK (col IS NOT "
        "NULL) NOT VALID'; backfill NULLs in batches; in a later migration 'VALIDATE "
        "CONSTRAINT', then SeparateDatabaseAndState(state_operations=[AlterField(null="
        "False)], database_operations=[RunSQL('ALTER TABLE ... ALTER COLUMN col SET NOT "
        "NULL'), RunSQL('ALTER TABLE ... DROP CONSTRAINT ..._notnull')]): PostgreSQL 12+ "
        "uses the validated CHECK and skips the scan.",
    ),
    Rule(
        "DBM005",
        "NOT NULL column added without a database default",
        Severity.WARNING,
        False,
        "Give the field `db_default=...` (Django 5.0+) so the database fills the column for "
        "code that does not know it yet, or add it with `null=True` first and make it NOT "
        "NULL in a later release (see DBM004).",
    ),
    Rule(
        "DBM006",
        "volatile or per-row default on an existing table",
        Severity.WARNING,
        True,
        "Add the column nullable without a default, backfill it in batches (a non-atomic "
        "migration or a management command), then set the default for new rows with "
        "`db_default=` and tighten NOT NULL as in DBM004.",
    ),
    Rule(
        "DBM007",
        "column type change rewrites the table",
        Severity.WARNING,
        True,
        "Add a new column of the new type, write both columns from the code, backfill in "
        "batches, switch reads (SeparateDatabaseAndState keeps the model's name), and drop "
        "the old column in a later release. Widening varchar(n) or changing varchar to text "
        "needs no rewrite and is not reported.",
    ),
    Rule(
        "DBM008",
        "unique constraint or primary key built without CONCURRENTLY",
        Severity.WARNING,
        True,
        "In a migration with `atomic = False`: SeparateDatabaseAndState(state_operations="
        "[the AddConstraint/AlterField(unique=True)], database_operations=[RunSQL('CREATE "
        "UNIQUE INDEX CONCURRENTLY name ON table (cols)'), RunSQL('ALTER TABLE table ADD "
        "CONSTRAINT name UNIQUE USING INDEX name')]) (`PRIMARY KEY USING INDEX` for a "
        "primary key, on NOT NULL columns).",
    ),
    Rule(
        "DBM009",
        "rename breaks the code that is still running",
        Severity.ERROR,
        False,
        "Keep the database name: for RenameField set `db_column='old_name'` on the renamed "
        "field, for RenameModel set `Meta.db_table = 'old_table'` (or use "
        "SeparateDatabaseAndState(state_operations=[the rename], database_operations=[])). "
        "Rename in the database only after no running code uses the old name.",
    ),
    Rule(
        "DBM010",
        "drop while running code may still read it",
        Severity.WARNING,
        False,
        "Two releases: first remove the field or model from the code with "
        "SeparateDatabaseAndState(state_operations=[RemoveField/DeleteModel], "
        "database_operations=[]) (make a NOT NULL column nullable or give it a db_default "
        "first so inserts keep working); drop it in a migration of the next release.",
    ),
    Rule(
        "DBM011",
        "RunSQL the linter cannot analyse",
        Severity.WARNING,
        False,
        "Review the statements by hand (locks taken, rows rewritten, lock_timeout), keep "
        "RunSQL to statements the linter understands, or add the rule id to the "
        "migration's `dbopt_ignore` once reviewed.",
    ),
    Rule(
        "DBM012",
        "data change inside a migration",
        Severity.INFO,
        True,
        "Move backfills to their own migration with `atomic = False` that updates in "
        "batches (or to a management command), so no schema lock is held while rows change.",
    ),
    Rule(
        "DBM013",
        "CONCURRENTLY inside an atomic migration",
        Severity.ERROR,
        False,
        "Set `atomic = False` on the migration: PostgreSQL refuses CONCURRENTLY inside a "
        "transaction block. Keep such a migration to the concurrent operations only.",
    ),
    Rule(
        "DBM014",
        "stored generated column rewrites the table",
        Severity.WARNING,
        True,
        "Add a plain nullable column instead, fill it from the code (or a trigger) for new "
        "rows and backfill the old ones in batches (a non-atomic migration or a command); "
        "`GeneratedField(db_persist=True)` and `ADD COLUMN ... GENERATED ALWAYS AS (...) "
        "STORED` compute every existing row under an ACCESS EXCLUSIVE lock. On a small "
        "table, or in a maintenance window, add it as is.",
    ),
    Rule(
        "DBM015",
        "exclusion constraint built under an ACCESS EXCLUSIVE lock",
        Severity.WARNING,
        True,
        "There is no lock-free way to add an exclusion constraint to a busy table: "
        "`ADD CONSTRAINT ... USING INDEX` takes only UNIQUE or PRIMARY KEY indexes, and "
        "EXCLUDE has no NOT VALID form. Build a new table with the constraint, copy the "
        "rows in batches (with a trigger for new writes) and swap the names in one short "
        "transaction, or schedule a window when the table can be locked for the build.",
    ),
    Rule(
        "DBM016",
        "REINDEX without CONCURRENTLY",
        Severity.WARNING,
        True,
        "Use `REINDEX INDEX CONCURRENTLY name` (or `REINDEX TABLE CONCURRENTLY table`, "
        "PostgreSQL 12+) in a migration with `atomic = False`: it rebuilds without "
        "blocking writes. Plain REINDEX blocks writes to the table (and reads that use the "
        "index) until it ends.",
    ),
    Rule(
        "DBM017",
        "table rewritten by CLUSTER or VACUUM FULL",
        Severity.WARNING,
        True,
        "CLUSTER and VACUUM FULL have no CONCURRENTLY form: both rewrite the table under "
        "an ACCESS EXCLUSIVE lock (no reads or writes) for the whole rewrite. Run them in "
        "a maintenance window, outside migrations, or use an online tool such as pg_repack "
        "(a PostgreSQL extension) on a busy table.",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
