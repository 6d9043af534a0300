"""Staff-only admin page: every backup with its verification state, and freshness."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_dbopt.admin_pages import ReportPageAdmin
from django_dbopt.backup.errors import BackupError
from django_dbopt.backup.models import BackupsPage
from django_dbopt.backup.progress import human_bytes
from django_dbopt.conf import get_config


def _rows() -> tuple[list[dict[str, Any]], str | None]:
    from django_dbopt.backup.catalog import list_backups

    try:
        entries = list_backups()
    except (BackupError, OSError) as e:
        return [], f"{type(e).__name__}: {e}"
    rows = []
    for entry in reversed(entries):
        m = entry.manifest
        rows.append(
            {
                "id": m.backup_id,
                "database": m.database,
                "engine": f"{m.engine} {m.server_version}",
                "kind": "tables: " + ", ".join(m.row_counts()) if m.partial else "full",
                "reason": m.reason,
                "started": m.started_at,
                "finished": m.finished_at,
                "size": human_bytes(m.stored_bytes),
                "plain": human_bytes(m.plain_bytes),
                "tables": len(m.tables),
                "rows": sum(m.row_counts().values()),
                "storages": entry.storages,
                "state": entry.state,
                "verified": entry.verified,
                "verification": entry.verification,
            }
        )
    return rows, None


@admin.register(BackupsPage)
class BackupsPageAdmin(ReportPageAdmin[BackupsPage]):
    def page_view(self, request: HttpRequest) -> HttpResponse:
        try:
            from django_dbopt.backup import freshness
        except ImportError as e:  # the crypto / compression extras are not installed
            context = self.page_context(
                request,
                "Backups",
                rows=[],
                error=f"backups need {e.name}, which is not installed: "
                "pip install 'django-dbopt[compression,crypto]'",
                configured=False,
                freshness=[],
                limit_h=get_config().backup.max_verified_age_h,
            )
            return TemplateResponse(request, "django_dbopt/backup/backups.html", context)
        rows, error = _rows()
        config = get_config().backup
        context = self.page_context(
            request,
            "Backups",
            rows=rows,
            error=error,
            configured=freshness.in_use(),
            freshness=freshness.report()["databases"] if freshness.in_use() else [],
            limit_h=config.max_verified_age_h,
        )
        return TemplateResponse(request, "django_dbopt/backup/backups.html", context)
