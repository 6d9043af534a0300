"""A ready-to-commit Django migration adding an index with ``AddIndexConcurrently``."""

from __future__ import annotations

import hashlib
import re

from django.apps import apps
from django.db import models

from django_dbopt.monitor.indexes import quote_ident


def _model_for(table: str) -> type[models.Model] | None:
    for model in apps.get_models():
        if model._meta.db_table == table:
            return model
    return None


def index_name(table: str, columns: list[str]) -> str:
    digest = hashlib.blake2b(f"{table}|{columns}".encode(), digest_size=3).hexdigest()
    plain = re.sub(r"\W", "_", f"{table[:10]}_{columns[0][:8]}", flags=re.ASCII)
    return f"{plain}_{digest}_idx".lstrip("_")


def _latest_migration(app_label: str) -> tuple[str, str] | None:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = loader.graph.leaf_nodes(app_label)
    return leaves[0] if leaves else None


def migration_for(table: str, columns: list[str]) -> str:
    """Migration source for the index, or plain SQL when no model owns ``table``."""
    name = index_name(table, columns)
    model = _model_for(table)
    by_column = {
        getattr(f, "column", None): f.name for f in (model._meta.concrete_fields if model else [])
    }
    if model is None or not all(c in by_column for c in columns):
        cols = ", ".join(quote_ident(c) for c in columns)
        return f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {quote_ident(table)} ({cols});\n"
    latest = _latest_migration(model._meta.app_label)
    dependency = f"        {latest!r},\n" if latest else ""
    fields = ", ".join(repr(by_column[c]) for c in columns)
    return (
        "from django.contrib.postgres.operations import AddIndexConcurrently\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    atomic = False\n\n"
        f"    dependencies = [\n{dependency}    ]\n\n"
        "    operations = [\n"
        "        AddIndexConcurrently(\n"
        f"            model_name={model._meta.model_name!r},\n"
        f"            index=models.Index(fields=[{fields}], name={name!r}),\n"
        "        ),\n"
        "    ]\n"
    )
