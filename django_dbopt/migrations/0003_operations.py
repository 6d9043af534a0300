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
    ]
