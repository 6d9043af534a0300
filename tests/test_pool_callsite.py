"""The pool page's call site when no application frame took the connection: the library
frame that asked (never ``?:0 in ?()``)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.contenttypes import models as contenttypes_models
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.test import override_settings

from django_dbopt.pool.stats import pool_stats
from tests.pool_fixtures import pooled, pooled_alias  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pooled"]),
    pytest.mark.usefixtures("pooled_alias"),
]


def test_a_connection_taken_by_library_code_names_that_code() -> None:
    ct_id = ContentType.objects.get_for_model(ContentType).pk
    ContentType.objects.clear_cache()
    manager = ContentType.objects.db_manager("pooled")
    # the worker thread runs Django's own code only: no frame of this test on its stack
    with (
        override_settings(DBOPT={"POOL": {"LEAK_THRESHOLD_S": 60}}),
        pooled(min_size=1, max_size=2),
        ThreadPoolExecutor(max_workers=1) as worker,
    ):
        worker.submit(manager.get_for_id, ct_id).result(20)
        stats = pool_stats("pooled")
        worker.submit(lambda: connections["pooled"].close()).result(20)  # same thread
        assert stats is not None
        locations = [h["location"] for h in stats["held"]]
        assert locations
    assert "?:0" not in " ".join(locations)
    models_file = os.path.abspath(contenttypes_models.__file__)
    assert any(loc.startswith(f"{models_file}:") for loc in locations), locations
