from django.db import migrations, models


def fill_notes(apps, schema_editor):
    Account = apps.get_model("backup_migrate_app", "Account")
    for account in Account.objects.all():
        account.note = (account.name or "").upper()
        account.save()


class Migration(migrations.Migration):
    dependencies = [("backup_migrate_app", "0001_initial")]

    operations = [
        migrations.AddField("account", "note", models.CharField(max_length=50, null=True)),
        migrations.RunPython(fill_notes, migrations.RunPython.noop),
    ]
