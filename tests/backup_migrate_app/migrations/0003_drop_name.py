from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("backup_migrate_app", "0002_note")]

    # reversible for the schema, but the names are gone: only the backup has them
    operations = [migrations.RemoveField("account", "name")]
