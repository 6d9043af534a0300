from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("migrate_attack_app", "0004_credit")]

    operations = [
        AddIndexConcurrently(
            "account", models.Index(fields=["note"], name="account_note_idx")
        ),
    ]
