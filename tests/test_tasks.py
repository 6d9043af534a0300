from __future__ import annotations

import pytest

celery = pytest.importorskip("celery")


def test_autodiscovery_finds_every_task_under_its_documented_name() -> None:
    app = celery.Celery("dbopt-tasks-check", set_as_current=False)
    app.config_from_object({"broker_url": "memory://"})
    import django_dbopt.tasks  # noqa: F401  (what autodiscover_tasks() imports)

    app.finalize()
    assert {"django_dbopt.monitor.explain_top", "django_dbopt.monitor.maintain_store"} <= set(
        app.tasks
    )
    assert "django_dbopt.ops.evaluate_alerts" in app.tasks
