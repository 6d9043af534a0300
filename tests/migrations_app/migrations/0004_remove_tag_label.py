from django.db import migrations


class Migration(migrations.Migration):
    dbopt_ignore = ["DBM010"]

    dependencies = [("migrations_app", "0003_index_code_concurrently")]

    operations = [
        migrations.RemoveField("tag", "label"),
    ]
