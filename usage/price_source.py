"""Read the prices bundled with the pinned `genai-prices` package into a plain snapshot (JSON-ready).

Only the price importer calls this: the package is heavy (pydantic) and is imported here lazily, never by web
workers or migrations. It reads parts of the package that are not its public API (`data_snapshot`, `types`), which
is why the version is pinned in requirements.txt and tested in tests/usage/test_price_import.py. The package's
`UpdatePrices` is never started, so it never goes online: the snapshot is the data shipped in the wheel.

A snapshot: {"source": "genai-prices==X", "generated_at": ISO time, "models": [entry, ...], "skipped": [...]},
each entry {"provider", "names": [...], "display_name", "segments": [{"from": date | null, "rates": {...}}]}
with rates keyed by ModelPrice field names (decimal strings; the threshold an integer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from importlib.metadata import version
from typing import Any

from usage.models import RATE_DIGITS, RATE_PLACES

PACKAGE = "genai-prices"
PINNED_VERSION = "0.2.3"
# Names this service shipped that the source knows under another one: DeepSeek serves V3 as deepseek-chat.
NAME_ALIASES = {("deepseek", "deepseek-v3"): "deepseek-chat"}
# The source's price keys that map onto ModelPrice's dimensions (other keys: audio, images, searches, are not metered)
PRICE_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "output_reasoning_mtok": "reasoning",
}
_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
_MAX_RATE = Decimal(10) ** (RATE_DIGITS - RATE_PLACES)
_FRAGMENT = re.compile(r"(?:[^a-z0-9]|-20\d\d)$")  # prefixes such as "claude-sonnet-4@" or "claude-sonnet-4-2025"
_HALF_HOURS = [time(h, m, tzinfo=UTC) for h in range(24) for m in (0, 30)]


class SourceError(Exception):
    """The installed package is not the pinned one, or its data has a shape this reader does not know."""


def source_label() -> str:
    """Return the source as recorded on imported rows, e.g. "genai-prices==0.2.3"."""
    return f"{PACKAGE}=={version(PACKAGE)}"


def _rate(value: Decimal) -> Decimal:
    rounded = value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    if rounded >= _MAX_RATE:
        raise ValueError(f"a rate of {value} USD per million tokens does not fit")
    return rounded


def _rates(model_price: Any, types: Any) -> dict[str, Any]:
    """Return a source price as ModelPrice fields, or raise ValueError when it cannot be represented."""
    plain: dict[str, Any] = {}
    long: dict[str, Any] = {}
    thresholds = set()
    for key, dimension in PRICE_KEYS.items():
        value = getattr(model_price, key, None)
        if value is None:
            continue
        if isinstance(value, types.TieredPrices):
            if len(value.tiers) != 1:
                raise ValueError("more than one long-context tier")
            thresholds.add(value.tiers[0].start)
            plain[f"{dimension}_per_million"] = _rate(value.base)
            long[f"long_{dimension}_per_million"] = _rate(value.tiers[0].price)
        else:
            plain[f"{dimension}_per_million"] = _rate(value)
    if not {"input_per_million", "output_per_million"} & set(plain):
        raise ValueError("no token prices")
    if len(thresholds) > 1:
        raise ValueError("long-context thresholds differ between dimensions")
    plain.setdefault("input_per_million", Decimal(0))  # the source prices an absent dimension at nothing
    plain.setdefault("output_per_million", Decimal(0))
    if thresholds:
        plain["long_context_threshold"] = thresholds.pop()
        long.setdefault("long_input_per_million", plain["input_per_million"])
        long.setdefault("long_output_per_million", plain["output_per_million"])
        plain.update(long)
    return plain


def _rates_at(model: Any, moment: datetime, types: Any) -> tuple[dict[str, Any], bool]:
    """Return the rates in force on `moment`'s day and whether they vary with the time of day.

    Time-of-day prices (DeepSeek's peak hours) have no place in an effective-dated table: the rates in force for
    most of the day are taken.
    """
    conditional = isinstance(model.prices, list)
    if not conditional or not any(isinstance(c.constraint, types.TimeOfDateConstraint) for c in model.prices):
        return _rates(model.get_prices(moment), types), False
    seen: dict[tuple, tuple[int, dict[str, Any]]] = {}
    for moment_of_day in _HALF_HOURS:
        rates = _rates(model.get_prices(datetime.combine(moment.date(), moment_of_day)), types)
        key = tuple(sorted(rates.items()))
        seen[key] = (seen.get(key, (0, rates))[0] + 1, rates)
    return max(seen.values(), key=lambda item: item[0])[1], len(seen) > 1


def _segments(model: Any, types: Any) -> tuple[list[dict[str, Any]], bool]:
    """Return the model's prices over time, first without a start date, each later one from its start date."""
    starts: set[date] = set()
    if isinstance(model.prices, list):
        starts = {c.constraint.start_date for c in model.prices if isinstance(c.constraint, types.StartDateConstraint)}
    boundaries = [None, *sorted(starts)]
    segments: list[dict[str, Any]] = []
    varies = False
    for start in boundaries:
        day = datetime.combine(start, time(tzinfo=UTC)) if start else datetime(1970, 1, 1, tzinfo=UTC)
        rates, tod = _rates_at(model, day + timedelta(hours=12) if start is None else day, types)
        varies = varies or tod
        if not segments or segments[-1]["rates"] != rates:
            segments.append({"from": start.isoformat() if start else None, "rates": rates})
    return segments, varies


def _names(provider: Any, model: Any, types: Any) -> list[str]:
    """Return the model names the source itself resolves to this model (its id and its literal match clauses)."""

    def literals(clause: Any) -> Iterator[str]:
        if isinstance(clause, types.ClauseEquals):
            yield clause.equals
        elif isinstance(clause, types.ClauseStartsWith):
            yield clause.starts_with
        elif isinstance(clause, types.ClauseOr):
            for item in clause.or_:
                yield from literals(item)
        elif isinstance(clause, types.ClauseAnd):
            for item in clause.and_:
                yield from literals(item)

    candidates = dict.fromkeys(name.lower() for name in [model.id, *literals(model.match)])
    return [
        name
        for name in candidates
        if len(name) <= 128 and not _FRAGMENT.search(name) and provider.find_model(name) is model
    ]


def _jsonable(rates: dict[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, int) else format(value.normalize(), "f") for key, value in rates.items()}


def _entry(provider: Any, model: Any, names: list[str], types: Any, skipped: list[str]) -> dict[str, Any] | None:
    try:
        segments, varies = _segments(model, types)
    except ValueError as exc:
        skipped.append(f"{provider.id}/{model.id}: {exc}")
        return None
    if varies:
        skipped.append(f"{provider.id}/{model.id}: time-of-day prices; imported the rates in force most of the day")
    for segment in segments:
        segment["rates"] = _jsonable(segment["rates"])
    return {
        "provider": provider.id,
        "names": names,
        "display_name": (model.name or model.id)[:128],
        "segments": segments,
    }


def snapshot(*, providers: set[str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Return the package's bundled prices as a plain snapshot (optionally only some providers)."""
    installed = version(PACKAGE)
    if installed != PINNED_VERSION:
        raise SourceError(f"{PACKAGE} {installed} is installed; this importer reads {PINNED_VERSION} (pinned).")
    from genai_prices import data_snapshot, types  # heavy: only the importer pays for it

    models: list[dict[str, Any]] = []
    skipped: list[str] = []
    bundled = data_snapshot.get_snapshot()
    if bundled.from_auto_update:
        raise SourceError("genai-prices was updated online; the importer reads only the bundled data.")
    for provider in bundled.providers:
        if len(provider.id) > 64 or (providers is not None and provider.id not in providers):
            continue
        for model in provider.models:
            names = _names(provider, model, types)
            if names and (entry := _entry(provider, model, names, types, skipped)):
                models.append(entry)
    _add_aliases(models)
    return {
        "source": f"{PACKAGE}=={installed}",
        "generated_at": (now or datetime.now(tz=UTC)).replace(microsecond=0).isoformat(),
        "models": models,
        "skipped": skipped,
    }


def _add_aliases(models: list[dict[str, Any]]) -> None:
    by_name = {(entry["provider"], name): entry for entry in models for name in entry["names"]}
    for (provider, alias), target in NAME_ALIASES.items():
        entry = by_name.get((provider, target))
        if entry is not None and (provider, alias) not in by_name:
            entry["names"].append(alias)
