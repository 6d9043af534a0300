"""The monitor's shared store in the database (used when no Redis ``STORE_CACHE`` is set),
its plan cache, and the unmanaged placeholders its admin pages hang off."""

from __future__ import annotations

from django.db import models


class QueryShape(models.Model):
    """A fingerprint's normalized SQL (never parameter values) and where it ran."""

    fingerprint = models.CharField(max_length=16, primary_key=True)
    sql = models.TextField()
    alias = models.CharField(max_length=100)
    first_seen = models.DateTimeField()

    class Meta:
        db_table = "dbopt_query_shape"

    def __str__(self) -> str:
        return self.fingerprint


class QueryStat(models.Model):
    """Aggregates of one (fingerprint, view) in one time bucket, from one flush or merged.

    Rows are only inserted by flushes (no read-modify-write between processes); merging
    is associative, so readers add up whatever rows a bucket has, and compaction folds a
    bucket's rows into one, and old buckets into hours.
    """

    bucket_start = models.DateTimeField()
    resolution_s = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=16)
    view = models.CharField(max_length=200)
    calls = models.BigIntegerField()
    total_ms = models.FloatField()
    min_ms = models.FloatField()
    max_ms = models.FloatField()
    slow = models.BigIntegerField(default=0)
    histogram = models.JSONField(default=dict)
    compacted = models.BooleanField(default=False)

    class Meta:
        db_table = "dbopt_query_stat"
        indexes = (
            models.Index(fields=["bucket_start", "fingerprint"], name="dbopt_stat_bucket_fp"),
            models.Index(fields=["fingerprint", "view"], name="dbopt_stat_fp_view"),
        )

    def __str__(self) -> str:
        return f"{self.fingerprint} {self.view} @ {self.bucket_start:%Y-%m-%d %H:%M}"


class FlushLog(models.Model):
    """One flush: which process wrote how many keys, and how many keys it had evicted."""

    at = models.DateTimeField(db_index=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    keys = models.PositiveIntegerField()
    evictions = models.PositiveIntegerField()

    class Meta:
        db_table = "dbopt_flush_log"

    def __str__(self) -> str:
        return f"{self.host}:{self.pid} @ {self.at:%Y-%m-%d %H:%M:%S}"


class SlowQuery(models.Model):
    fingerprint = models.CharField(max_length=16, db_index=True)
    view = models.CharField(max_length=200)
    alias = models.CharField(max_length=100)
    call_site = models.CharField(max_length=500)
    duration_ms = models.FloatField()
    params = models.TextField(blank=True)  # only with CAPTURE_PARAMS
    at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "dbopt_slow_query"

    def __str__(self) -> str:
        return f"{self.fingerprint} {self.duration_ms:.1f} ms"


class NPlusOneFinding(models.Model):
    fingerprint = models.CharField(max_length=16)
    view = models.CharField(max_length=200)
    call_site = models.CharField(max_length=500)
    sql = models.TextField()
    alias = models.CharField(max_length=100)
    hint = models.TextField(blank=True)
    stack = models.JSONField(default=list)
    occurrences = models.PositiveIntegerField(default=0)
    max_count = models.PositiveIntegerField(default=0)
    total_ms = models.FloatField(default=0.0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "dbopt_nplusone"
        constraints = (
            models.UniqueConstraint(
                fields=["fingerprint", "view", "call_site"], name="dbopt_nplusone_unique"
            ),
        )

    def __str__(self) -> str:
        return f"{self.fingerprint} at {self.call_site}"


class PlanCache(models.Model):
    """EXPLAIN results per fingerprint (the database plan cache)."""

    fingerprint = models.CharField(max_length=16, primary_key=True)
    alias = models.CharField(max_length=100)
    plan = models.JSONField()
    findings = models.JSONField(default=list)
    at = models.DateTimeField()

    class Meta:
        db_table = "dbopt_plan_cache"

    def __str__(self) -> str:
        return self.fingerprint


class MonitorPage(models.Model):
    """Placeholder for the monitor's admin pages (no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "query monitor"
        verbose_name_plural = "query monitor"

    def __str__(self) -> str:
        return "query monitor"
