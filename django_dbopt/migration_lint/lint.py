"""``lint()``: the findings for a set of migrations, ignores applied, weighted by size."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.state import ProjectState

from django_dbopt.conf import get_config
from django_dbopt.migration_lint.analysis import analyse
from django_dbopt.migration_lint.findings import Finding, LintReport
from django_dbopt.migration_lint.rendering import offline_connection
from django_dbopt.migration_lint.selection import Key, Selection, key, select
from django_dbopt.migration_lint.sizes import table_sizes
from django_dbopt.migration_lint.steps import Step, Unit

logger = logging.getLogger(__name__)

ANY_RULE = "*"


def lint(
    database: str = "default",
    app_label: str | None = None,
    migration_name: str | None = None,
    every: bool = False,
    offline: bool = False,
    targets: list[Key] | None = None,
) -> LintReport:
    """Lint the migrations ``migrate`` would run on ``database`` (or the ones named).

    ``offline``: never connect (then an app or ``every`` must be given). ``targets``:
    lint the unapplied plan up to these ``(app_label, name)`` only. Raises
    ``SelectionError`` for an unknown app or migration.
    """
    connection = connections[database]
    selection = select(None if offline else connection, app_label, migration_name, every, targets)
    pg_version = None
    on_postgres = not offline and connection.vendor == "postgresql"
    if on_postgres:
        pg_version = getattr(connection, "pg_version", None)
    renderer = offline_connection(database, pg_version)
    if offline:
        note = "--offline: linted without table sizes"
    elif not on_postgres:
        note = f"{database!r} is {connection.vendor}, not PostgreSQL: linted without table sizes"
    else:
        note = ""
    report = LintReport(database, selection.mode, on_postgres, note, selection.labels())
    findings = _walk(selection, Unit(renderer), report)
    if on_postgres:
        _weigh(connection, findings, report)
    for finding in findings:
        finding.ignored_by = _ignored_by(finding, selection)
        (report.ignored if finding.ignored_by else report.findings).append(finding)
    return report


def _walk(selection: Selection, shared: Unit, report: LintReport) -> list[Finding]:
    loader = selection.executor.loader
    state = ProjectState(real_apps=loader.unmigrated_apps)
    if selection.mode == "unapplied":
        # the plan starts where the database is: its tables exist, the plan's are new
        for migration in (
            m
            for m, _ in selection.executor.migration_plan(
                loader.graph.leaf_nodes(), clean_start=True
            )
        ):
            if key(migration) in selection.applied:
                state = migration.mutate_state(state, preserve=False)
        shared.existing = {
            model._meta.db_table for model in state.apps.get_models(include_auto_created=True)
        }
    findings: list[Finding] = []
    for migration in selection.plan:
        if key(migration) not in selection.selected:
            state = migration.mutate_state(state, preserve=False)
            continue
        # a named migration is linted as if run on a database where its predecessors ran
        unit = shared if selection.mode == "unapplied" else Unit(shared.renderer)
        findings.extend(lint_migration(migration, state, unit))
        if unit is not shared:
            report.notes.extend(unit.notes)
    report.notes.extend(shared.notes)
    return findings


def lint_migration(migration: Migration, state: ProjectState, unit: Unit) -> list[Finding]:
    findings = []
    for index, operation in enumerate(migration.operations, 1):
        from_state = state.clone()
        operation.state_forwards(migration.app_label, state)
        findings.extend(analyse(Step(unit, migration, index, operation, from_state, state)))
    return findings


def _weigh(connection: BaseDatabaseWrapper, findings: list[Finding], report: LintReport) -> None:
    config = get_config().migrations
    tables = {f.table for f in findings if f.table and f.rule.size_weighted}
    try:
        sizes = table_sizes(connection, tables)
    except DatabaseError as e:
        logger.warning("dbopt_lint_migrations: table sizes unavailable: %s", e)
        report.sizes, report.sizes_note = False, f"table sizes unavailable ({e})"
        return
    for finding in findings:
        size = sizes.get(finding.table or "")
        if size is None or not finding.rule.size_weighted:
            continue
        finding.table_rows, finding.table_bytes = size.rows, size.bytes
        if size.is_big(config.big_table_rows, config.big_table_bytes):
            finding.severity = finding.severity.raised()
            finding.message += (
                f" The table is big ({_describe(size.rows, size.bytes)}): the lock lasts "
                "accordingly."
            )


def _describe(rows: int | None, size: int) -> str:
    count = f"~{rows:,} rows, " if rows is not None else ""
    return f"{count}{size / 1024 / 1024:,.0f} MiB"


def _ignored_by(finding: Finding, selection: Selection) -> str | None:
    node = (finding.app_label, finding.migration)
    migration = selection.executor.loader.graph.nodes[node]
    own = set(getattr(migration, "dbopt_ignore", ()))
    if finding.rule.id in own or ANY_RULE in own:
        return "migration"
    label = f"{finding.app_label}.{finding.migration}"
    for entry in get_config().migrations.ignore:
        name, _, rule = entry.partition(":")
        if name == label and rule in (finding.rule.id, ANY_RULE):
            return "settings"
    return None
