from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("migrations_app", "0002_index_name")]

    operations = [
        AddIndexConcurrently("item", models.Index(fields=["code"], name="item_code_idx")),
    ]
