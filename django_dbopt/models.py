"""django-dbopt's models. Each part keeps its models in its own package and imports them here.

The admin pages for non-model data hang off unmanaged placeholder models
(``managed = False``, ``default_permissions = ()``), as STYLE.md describes.
"""

from __future__ import annotations

from django_dbopt.backup.models import BackupsPage  # noqa: F401
from django_dbopt.benchmark.models import BenchmarkRun, ScratchAuthor, ScratchItem  # noqa: F401
from django_dbopt.cache.models import CacheStats  # noqa: F401
from django_dbopt.monitor import models as monitor_models  # noqa: F401
from django_dbopt.ops import models as ops_models  # noqa: F401
from django_dbopt.pool.models import ConnectionPool  # noqa: F401
from django_dbopt.routing.models import ReplicaStatusPage  # noqa: F401
