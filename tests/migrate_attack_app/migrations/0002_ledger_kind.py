from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("migrate_attack_app", "0001_initial")]

    operations = [
        migrations.AddField("ledger", "kind", models.CharField(max_length=10, null=True)),
    ]
