from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("migrations_app", "0004_remove_tag_label")]

    operations = [
        migrations.RenameField("item", "code", "sku"),
    ]
