"""URLs to include: ``path("dbopt/", include("django_dbopt.urls"))``.

``health/live/`` and ``health/ready/`` (``django_dbopt.health``) and ``metrics/``
(``django_dbopt.metrics``, needs ``prometheus-client``: the ``prometheus`` extra).
"""

from __future__ import annotations

from django.urls import path

from django_dbopt import health, metrics

app_name = "django_dbopt"

urlpatterns = [
    path("health/live/", health.liveness, name="health-live"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("metrics/", metrics.metrics_view, name="metrics"),
]
