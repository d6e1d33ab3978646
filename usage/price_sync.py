"""Plan which price rows a snapshot of the maintained source adds to the table. Pure: no database, no package.

The rule, shared by the import command and the data migration that loads the shipped table:

- rows are only ever added, never edited or deleted, so recorded costs and their history stay as they were;
- a model the table does not know gets the source's whole history (its first price from FLOOR);
- for a model the table knows, the source's later price changes are added at their own dates and, when the
  source disagrees with the table's latest row, a row dated `as_of` carries the source's price from then on;
- a model whose latest row was entered by staff is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from usage.models import OPTIONAL_RATES, STAFF_SOURCE

FLOOR = datetime(2024, 1, 1, tzinfo=UTC)  # before any event this service recorded
RATE_FIELDS = ("input_per_million", "output_per_million", *OPTIONAL_RATES, "long_context_threshold")

Rates = dict[str, Any]  # ModelPrice field -> Decimal (threshold: int); absent fields are empty


@dataclass(frozen=True)
class ExistingRow:
    provider: str
    model: str
    effective_from: datetime
    source: str
    rates: Rates


@dataclass
class Change:
    """What the snapshot changes for one model: "new", "update" or "kept" (a staff row stays in force)."""

    kind: str
    provider: str
    model: str
    display_name: str
    previous: Rates | None = None
    rows: list[tuple[datetime, Rates]] = field(default_factory=list)


def rates_of(row: Any) -> Rates:
    """Return the rates of a ModelPrice row (or anything with its fields), without the empty ones."""
    return {name: getattr(row, name) for name in RATE_FIELDS if getattr(row, name) is not None}


def rates_from_json(data: dict[str, Any]) -> Rates:
    return {key: value if key == "long_context_threshold" else Decimal(value) for key, value in data.items()}


def _same(a: Rates, b: Rates) -> bool:
    return {k: v for k, v in a.items() if v is not None} == {k: v for k, v in b.items() if v is not None}


def _start(segment: dict[str, Any]) -> datetime:
    return FLOOR if segment["from"] is None else datetime.combine(date.fromisoformat(segment["from"]), time(tzinfo=UTC))


def _plan_known(change: Change, segments: list[tuple[datetime, Rates]], rows: list[ExistingRow], as_of: datetime):
    latest = max(rows, key=lambda row: row.effective_from)
    change.previous = latest.rates
    if latest.source == STAFF_SOURCE:
        change.kind = "kept"
        return
    in_force = [rates for start, rates in segments if start <= latest.effective_from]
    source_then = in_force[-1] if in_force else segments[0][1]
    later = [(start, rates) for start, rates in segments if start > latest.effective_from]
    current = latest.rates
    if not _same(source_then, current) and as_of > latest.effective_from and not (later and later[0][0] <= as_of):
        change.rows.append((as_of, source_then))
        current = source_then
    for start, rates in later:
        if not _same(rates, current):
            change.rows.append((start, rates))
            current = rates


def plan(snapshot: dict[str, Any], existing: Iterable[ExistingRow], *, as_of: datetime) -> list[Change]:
    """Return, model by model, the rows the snapshot adds to a table holding `existing` (nothing is written)."""
    by_key: dict[tuple[str, str], list[ExistingRow]] = defaultdict(list)
    for row in existing:
        by_key[(row.provider, row.model)].append(row)
    changes = []
    for entry in snapshot["models"]:
        segments = [(_start(s), rates_from_json(s["rates"])) for s in entry["segments"]]
        for name in entry["names"]:
            key = (entry["provider"], name)
            change = Change("update" if key in by_key else "new", *key, entry["display_name"])
            if key in by_key:
                _plan_known(change, segments, by_key[key], as_of)
            else:
                change.rows = list(segments)
            if change.rows or change.kind == "kept":
                changes.append(change)
    return changes


def new_rows(model_class: type, changes: Iterable[Change], *, source: str) -> list[Any]:
    """Return unsaved `model_class` (ModelPrice, or its historical version) rows for the planned changes."""
    return [
        model_class(
            provider=change.provider,
            model=change.model,
            display_name=change.display_name,
            effective_from=effective_from,
            source=source,
            **rates,
        )
        for change in changes
        for effective_from, rates in change.rows
    ]


def existing_rows(queryset: Iterable[Any]) -> list[ExistingRow]:
    """Return the rows of a ModelPrice queryset as the planner reads them."""
    return [ExistingRow(row.provider, row.model, row.effective_from, row.source, rates_of(row)) for row in queryset]
