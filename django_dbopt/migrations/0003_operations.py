from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_dbopt", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="OverviewPage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "overview",
                "verbose_name_plural": "overview",
                "permissions": (
                    ("view_reports", "Can view django-dbopt reports"),
                    ("run_explain", "Can run EXPLAIN and HypoPG index advice"),
                ),
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Alert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rule", models.CharField(max_length=100)),
                ("subject", models.CharField(max_length=200)),
                ("severity", models.CharField(max_length=20)),
                ("threshold", models.FloatField()),
                ("value", models.FloatField(help_text="the value when it fired")),
                ("last_value", models.FloatField(help_text="the value at the last evaluation")),
                ("message", models.TextField()),
                ("evidence", models.TextField(blank=True)),
                ("url", models.CharField(blank=True, max_length=500)),
                ("fired_at", models.DateTimeField(db_index=True)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "db_table": "dbopt_alert",
                "ordering": ("-fired_at",),
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("resolved_at__isnull", True)),
                        fields=("rule", "subject"),
                        name="dbopt_alert_one_open",
                    )
                ],
            },
        ),
    ]
