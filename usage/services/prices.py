"""Keep the price table current from the maintained source: plan the new rows, and add them when asked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from usage import price_sync
from usage.models import ModelPrice

SHIPPED_PRICES = Path(__file__).resolve().parent.parent / "data" / "model_prices.json"


@transaction.atomic
def model_prices_import(
    *, snapshot: dict[str, Any], apply: bool = False, as_of: datetime | None = None
) -> list[price_sync.Change]:
    """Return what the snapshot changes in the price table, and add those rows when `apply` (never edits a row)."""
    existing = price_sync.existing_rows(ModelPrice.objects.select_for_update().order_by())
    changes = price_sync.plan(snapshot, existing, as_of=as_of or timezone.now())
    if apply:
        ModelPrice.objects.bulk_create(price_sync.new_rows(ModelPrice, changes, source=snapshot["source"]))
    return changes


def snapshot_write(*, snapshot: dict[str, Any], path: Path = SHIPPED_PRICES) -> None:
    """Write a snapshot as the shipped data file: one model per line, so that updates diff readably."""
    head = {key: value for key, value in snapshot.items() if key != "models"}
    lines = [json.dumps(entry, sort_keys=True, ensure_ascii=False) for entry in snapshot["models"]]
    body = json.dumps(head, sort_keys=True, indent=1, ensure_ascii=False)[:-2]
    path.write_text(body + ',\n "models": [\n' + ",\n".join(lines) + "\n ]\n}\n", encoding="utf-8")


def snapshot_read(*, path: Path = SHIPPED_PRICES) -> dict[str, Any]:
    """Return the snapshot stored in a data file."""
    return json.loads(path.read_text(encoding="utf-8"))
