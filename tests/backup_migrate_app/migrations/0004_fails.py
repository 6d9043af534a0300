from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("backup_migrate_app", "0003_drop_name")]

    operations = [migrations.RunSQL("SELECT 1 / 0", migrations.RunSQL.noop)]
