from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("migrate_attack_app", "0002_ledger_kind")]

    operations = [
        migrations.AddField("account", "note", models.CharField(max_length=20, null=True)),
    ]
