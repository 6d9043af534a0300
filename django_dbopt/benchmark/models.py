"""The benchmark's models: stored runs, and the scratch tables its workloads use.

``BenchmarkRun`` keeps one row per ``dbopt_benchmark`` invocation (its JSON report), so
later runs can be compared with it. ``ScratchAuthor`` / ``ScratchItem`` are unmanaged:
migrations never create them; ``dbopt_benchmark`` creates them before a run and drops
them after, so built-in workloads never touch a project's own data.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class BenchmarkRun(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    label = models.CharField(max_length=100, blank=True, default="")
    preset = models.CharField(max_length=20)
    #: digest of the environment (database server, machine, versions, parts configured)
    env_key = models.CharField(max_length=32, db_index=True)
    duration_s = models.FloatField()
    grade = models.CharField(max_length=8, blank=True, default="")
    regressions = models.IntegerField(default=0)
    #: the whole report, as ``--format json`` prints it (schema: docs/benchmark.md)
    report: models.JSONField[Any] = models.JSONField(default=dict)

    class Meta:
        app_label = "django_dbopt"
        ordering = ("-created_at", "-id")
        verbose_name = "benchmark run"
        verbose_name_plural = "benchmark runs"

    def __str__(self) -> str:
        return f"benchmark run #{self.pk} ({self.preset}, {self.created_at:%Y-%m-%d %H:%M})"


class ScratchAuthor(models.Model):
    name = models.CharField(max_length=100)
    counter = models.IntegerField(default=0)

    class Meta:
        app_label = "django_dbopt"
        managed = False
        db_table = "dbopt_bench_author"
        default_permissions = ()

    def __str__(self) -> str:
        return self.name


class ScratchItem(models.Model):
    author = models.ForeignKey(ScratchAuthor, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=100)
    status = models.CharField(max_length=20, db_index=True)
    score = models.IntegerField()
    counter = models.IntegerField(default=0)

    class Meta:
        app_label = "django_dbopt"
        managed = False
        db_table = "dbopt_bench_item"
        default_permissions = ()

    def __str__(self) -> str:
        return self.title
