"""Which migrations to lint, in the order ``migrate`` would run them.

- default: the unapplied migrations of every app (what ``migrate`` would run now; needs
  the database's migration history);
- ``app_label [migration_name]``: one app's migrations, or one of them (name or prefix);
- ``all``: every migration.

Django's own apps (``django.contrib.*``) are skipped unless named.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

from django_dbopt.exceptions import DbOptError

Key = tuple[str, str]


class SelectionError(DbOptError):
    """The app or migration asked for does not exist (or cannot be chosen offline)."""


@dataclass
class Selection:
    #: ``"unapplied"``, ``"named"`` or ``"all"``
    mode: str
    executor: MigrationExecutor
    #: the migrations to walk, in order: the unapplied plan, or every migration
    plan: list[Migration]
    selected: set[Key]
    #: applied migrations (``"unapplied"`` mode only): the state the plan starts from
    applied: set[Key]

    def labels(self) -> list[str]:
        return [f"{m.app_label}.{m.name}" for m in self.plan if key(m) in self.selected]


def key(migration: Migration) -> Key:
    return (migration.app_label, migration.name)


def is_django_app(app_label: str) -> bool:
    try:
        return apps.get_app_config(app_label).name.startswith("django.")
    except LookupError:
        return False


def select(
    connection: BaseDatabaseWrapper | None,
    app_label: str | None = None,
    migration_name: str | None = None,
    every: bool = False,
    targets: list[Key] | None = None,
) -> Selection:
    """``connection`` is needed only for the default (unapplied) selection, which plans
    to ``targets`` (default: every app's latest migration)."""
    if app_label is None and not every and connection is None:
        raise SelectionError(
            "Without a database (--offline) the applied migrations are unknown: name an "
            "app (app_label [migration_name]) or pass --all."
        )
    executor = MigrationExecutor(connection)
    loader = executor.loader
    leaves = loader.graph.leaf_nodes()
    full = [m for m, _ in executor.migration_plan(leaves, clean_start=True)]
    if app_label is not None:
        return Selection(
            "named", executor, full, _named(executor, app_label, migration_name), set()
        )
    if every:
        return Selection(
            "all", executor, full, {key(m) for m in full if not is_django_app(m.app_label)}, set()
        )
    plan = [m for m, backwards in executor.migration_plan(targets or leaves) if not backwards]
    selected = {key(m) for m in plan if not is_django_app(m.app_label)}
    return Selection("unapplied", executor, plan, selected, set(loader.applied_migrations))


def _named(executor: MigrationExecutor, app_label: str, migration_name: str | None) -> set[Key]:
    loader = executor.loader
    try:
        apps.get_app_config(app_label)
    except LookupError as e:
        raise SelectionError(f"No installed app with label {app_label!r}.") from e
    if app_label not in loader.migrated_apps:
        raise SelectionError(f"App {app_label!r} does not have migrations.")
    if migration_name is None:
        return {n for n in loader.graph.nodes if n[0] == app_label}
    try:
        migration = loader.get_migration_by_prefix(app_label, migration_name)
    except AmbiguityError as e:
        raise SelectionError(
            f"More than one migration matches {migration_name!r} in app {app_label!r}; "
            "give more of its name."
        ) from e
    except KeyError as e:
        raise SelectionError(
            f"Cannot find a migration matching {migration_name!r} from app {app_label!r}."
        ) from e
    return {key(migration)}
