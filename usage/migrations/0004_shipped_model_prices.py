"""Load the shipped price table (usage/data/model_prices.json, written by `manage.py usage_import_prices
--write-data` from the pinned genai-prices package). Reads the JSON only: the package is never imported here.

Rows are added by the importer's own rule (usage.price_sync), as of the file's generation time: models the table
does not know get their whole history, the seeded January 2025 rows are superseded from then on.
"""

import json
from datetime import datetime
from pathlib import Path

from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "model_prices.json"


def load(apps, schema_editor):
    from usage import price_sync

    ModelPrice = apps.get_model("usage", "ModelPrice")
    snapshot = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    existing = price_sync.existing_rows(ModelPrice.objects.all())
    changes = price_sync.plan(snapshot, existing, as_of=datetime.fromisoformat(snapshot["generated_at"]))
    ModelPrice.objects.bulk_create(price_sync.new_rows(ModelPrice, changes, source=snapshot["source"]), batch_size=500)


def unload(apps, schema_editor):
    snapshot = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    apps.get_model("usage", "ModelPrice").objects.filter(source=snapshot["source"]).delete()


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_cost_dimensions")]

    operations = [migrations.RunPython(load, unload)]
