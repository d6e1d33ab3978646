"""Import model prices from the pinned genai-prices package: a dry run by default, --apply adds the new rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from usage import price_source
from usage.price_sync import Change
from usage.services.prices import SHIPPED_PRICES, model_prices_import, snapshot_read, snapshot_write

_LABELS = {
    "input_per_million": "in",
    "output_per_million": "out",
    "cache_read_per_million": "cache read",
    "cache_write_per_million": "cache write",
    "reasoning_per_million": "reasoning",
    "long_context_threshold": "above",
    "long_input_per_million": "in",
    "long_output_per_million": "out",
    "long_cache_read_per_million": "cache read",
    "long_cache_write_per_million": "cache write",
    "long_reasoning_per_million": "reasoning",
}


def describe(rates: dict[str, Any]) -> str:
    """Return rates as one line: "in 3 out 15 cache read 0.3 | above 200000: in 6 out 22.5"."""
    parts = []
    for name, label in _LABELS.items():
        if rates.get(name) is None:
            continue
        value = rates[name]
        text = format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)
        parts.append(f"| {label} {text}:" if name == "long_context_threshold" else f"{label} {text}")
    return " ".join(parts)


class Command(BaseCommand):
    help = (
        "Compare the price table with the prices bundled in the pinned genai-prices package and print the "
        "difference (dry run). --apply adds the new dated rows: no row is ever edited or deleted, and a model "
        "whose latest price was entered by staff is left alone. --write-data refreshes the shipped data file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--apply", action="store_true", help="Add the new rows (default: only print them).")
        parser.add_argument("--provider", action="append", help="Only this provider (repeatable).")
        parser.add_argument(
            "--from-file", type=Path, help="Read a snapshot file (such as the shipped one) instead of the package."
        )
        parser.add_argument(
            "--write-data",
            nargs="?",
            const=SHIPPED_PRICES,
            type=Path,
            help=f"Write the package's snapshot to a data file (default {SHIPPED_PRICES.name}) and stop.",
        )

    def handle(self, *args, **options) -> None:
        providers = set(options["provider"]) if options["provider"] else None
        try:
            if options["from_file"]:
                snapshot = snapshot_read(path=options["from_file"])
            else:
                snapshot = price_source.snapshot(providers=providers)
        except price_source.SourceError as exc:
            raise CommandError(str(exc)) from exc
        if providers is not None:
            snapshot["models"] = [m for m in snapshot["models"] if m["provider"] in providers]
        if options["write_data"]:
            snapshot_write(snapshot=snapshot, path=options["write_data"])
            self.stdout.write(
                f"Wrote {len(snapshot['models'])} models from {snapshot['source']} to {options['write_data']}."
            )
            return
        changes = model_prices_import(snapshot=snapshot, apply=options["apply"])
        self._report(snapshot, changes, applied=options["apply"])

    def _report(self, snapshot: dict[str, Any], changes: list[Change], *, applied: bool) -> None:
        for change in changes:
            key = f"{change.provider}/{change.model}"
            if change.kind == "kept":
                self.stdout.write(f"= {key}: staff price kept ({describe(change.previous or {})})")
                continue
            mark = "+" if change.kind == "new" else "~"
            was = f" (was {describe(change.previous)})" if change.previous else ""
            for effective_from, rates in change.rows:
                self.stdout.write(f"{mark} {key} from {effective_from:%Y-%m-%d %H:%M}: {describe(rates)}{was}")
                was = ""
        for note in snapshot.get("skipped", []):
            self.stdout.write(f"! {note}")
        rows = sum(len(change.rows) for change in changes)
        counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("new", "update", "kept")}
        summary = (
            f"{snapshot['source']}: {counts['new']} new model(s), {counts['update']} changed, "
            f"{counts['kept']} staff price(s) kept; {rows} row(s) {'added' if applied else 'to add'}."
        )
        self.stdout.write(self.style.SUCCESS(summary) if applied else summary + " Dry run: add them with --apply.")
