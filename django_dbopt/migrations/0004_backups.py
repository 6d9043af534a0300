from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_dbopt", "0003_operations"),
    ]

    operations = [
        migrations.CreateModel(
            name="BackupsPage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "verbose_name": "backup",
                "verbose_name_plural": "backups",
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
