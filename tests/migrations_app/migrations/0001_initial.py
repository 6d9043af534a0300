from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=50, null=True)),
                ("code", models.CharField(max_length=10)),
                ("qty", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("label", models.CharField(max_length=20, null=True)),
            ],
        ),
        # on a table created in the same migration: safe, not reported
        migrations.AddIndex("item", models.Index(fields=["qty"], name="item_qty_idx")),
    ]
