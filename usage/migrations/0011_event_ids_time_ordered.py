# The default is Python's, not the database's: the state changes, the table does not (on SQLite an AlterField
# would copy the whole table to change nothing).

from django.db import migrations, models

import aragora_site.ids


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0010_rollup_ids_without_autoincrement"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="usageevent",
                    name="id",
                    field=models.UUIDField(
                        default=aragora_site.ids.uuid7, editable=False, primary_key=True, serialize=False
                    ),
                ),
            ],
        ),
    ]
