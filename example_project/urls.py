"""Root URLconf: the admin at /admin/, django_dbopt's health and metrics at /dbopt/,
the demo pages at /."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dbopt/", include("django_dbopt.urls")),  # health/live/, health/ready/, metrics/
    path("", include("example_project.demo.urls")),
]
