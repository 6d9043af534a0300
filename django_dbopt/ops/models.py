"""The overview page's placeholder, which also carries django-dbopt's report permissions.

- ``django_dbopt.view_reports``: see the report pages (SQL, plans, pools, replicas, cache);
- ``django_dbopt.run_explain``: run EXPLAIN and HypoPG advice from the admin.

Superusers have both; ``is_staff`` alone has neither.
"""

from __future__ import annotations

from django.db import models


class OverviewPage(models.Model):
    """Placeholder for the overview admin page (no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = (
            ("view_reports", "Can view django-dbopt reports"),
            ("run_explain", "Can run EXPLAIN and HypoPG index advice"),
        )
        app_label = "django_dbopt"
        verbose_name = "overview"
        verbose_name_plural = "overview"

    def __str__(self) -> str:
        return "overview"


class Alert(models.Model):
    """One alert: fired when a rule's condition held for its duration, resolved when it
    stopped. At most one open (unresolved) alert per rule and subject, across processes."""

    rule = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    severity = models.CharField(max_length=20)
    threshold = models.FloatField()
    value = models.FloatField(help_text="the value when it fired")
    last_value = models.FloatField(help_text="the value at the last evaluation")
    message = models.TextField()
    evidence = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    fired_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "django_dbopt"
        db_table = "dbopt_alert"
        ordering = ("-fired_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="dbopt_alert_one_open",
            ),
        )

    def __str__(self) -> str:
        return f"{self.rule} {self.subject} ({'resolved' if self.resolved_at else 'firing'})"

    @property
    def firing(self) -> bool:
        return self.resolved_at is None
