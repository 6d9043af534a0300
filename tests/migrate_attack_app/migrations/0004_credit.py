from django.db import migrations

# credit_everyone() is created by the test that runs this migration: it commits work
# that a retry must never run twice.


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("migrate_attack_app", "0003_account_note")]

    operations = [
        migrations.RunSQL("SELECT credit_everyone()", migrations.RunSQL.noop),
        migrations.RunSQL(
            'ALTER TABLE "migrate_attack_app_ledger" ADD COLUMN "memo" text',
            'ALTER TABLE "migrate_attack_app_ledger" DROP COLUMN "memo"',
        ),
    ]
