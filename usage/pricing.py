"""Token prices: looked up from the ModelPrice table, cached per process until the table changes."""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from aragora_site.caches import process_cache
from usage.models import MAX_COUNT, ModelPrice
from usage.money import COST_QUANTUM

MILLION = Decimal(1_000_000)
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)  # enough for any count times any rate, exactly
FALLBACK_PROVIDER = "openrouter"
DEFAULT_MODEL = "default"
# Dated or floating aliases of a model: claude-sonnet-4-20250514, gpt-4o-2024-08-06, claude-3@20240229, x-latest
_ALIAS_SUFFIX = re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2})|-latest)$")


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each dimension, with empty rates already resolved to the plain ones."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    reasoning: Decimal

    @classmethod
    def of(cls, row: Any, *, long_context: bool = False) -> Rates:
        """Return a row's ordinary rates, or its long-context ones."""
        prefix = "long_" if long_context else ""

        def rate(name: str, plain: Decimal) -> Decimal:
            value = getattr(row, f"{prefix}{name}_per_million")
            if value is None and long_context:  # a flat cache or reasoning rate stays flat above the threshold
                value = getattr(row, f"{name}_per_million")
            return plain if value is None else value

        price_in, price_out = getattr(row, f"{prefix}input_per_million"), getattr(row, f"{prefix}output_per_million")
        return cls(
            input=price_in,
            output=price_out,
            cache_read=rate("cache_read", price_in),
            cache_write=rate("cache_write", price_in),
            reasoning=rate("reasoning", price_out),
        )


@dataclass(frozen=True)
class Price:
    id: int
    provider: str
    model: str
    effective_from: datetime
    rates: Rates
    long_context_threshold: int | None = None
    long_rates: Rates | None = None
    source: str = ""

    @classmethod
    def from_row(cls, row: Any) -> Price:
        """Return the price of a ModelPrice row (or anything with its attributes)."""
        rates = Rates.of(row)
        long_rates = None
        if row.long_context_threshold is not None:
            long_rates = Rates.of(row, long_context=True)
        return cls(
            row.id,
            row.provider,
            row.model,
            row.effective_from,
            rates,
            row.long_context_threshold,
            long_rates,
            row.source,
        )

    @property
    def input_per_million(self) -> Decimal:
        return self.rates.input

    @property
    def output_per_million(self) -> Decimal:
        return self.rates.output


class PricedUsage(NamedTuple):
    """The cost of some usage, the price row that set it, and whether that row was only a fallback (a tuple:
    every event builds one)."""

    cost: Decimal
    price_id: int | None
    unpriced: bool


def token_cost(
    price: Price, tokens_in: int, tokens_out: int, *, cache_read: int = 0, cache_write: int = 0, reasoning: int = 0
) -> Decimal:
    """Return the exact cost of the tokens at `price`, rounded half-even to 1e-10 USD.

    Cache reads and writes are parts of `tokens_in`, reasoning a part of `tokens_out`. Above the long-context
    threshold the whole request is billed at the long-context rates, as providers do.
    """
    rates = price.rates
    if price.long_rates is not None and tokens_in > price.long_context_threshold:
        rates = price.long_rates
    # One exact context for the sums (a `with localcontext()` per event costs more than the arithmetic).
    add, mul = _EXACT.add, _EXACT.multiply
    if cache_read or cache_write or reasoning:
        raw = add(
            add(
                add(mul(tokens_in - cache_read - cache_write, rates.input), mul(cache_read, rates.cache_read)),
                add(mul(cache_write, rates.cache_write), mul(tokens_out - reasoning, rates.output)),
            ),
            mul(reasoning, rates.reasoning),
        )
    else:
        raw = add(mul(tokens_in, rates.input), mul(tokens_out, rates.output))
    return _EXACT.divide(raw, MILLION).quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN, context=_EXACT)


@functools.lru_cache(maxsize=8192)
def model_candidates(provider: str, model: str) -> tuple[tuple[str, str], ...]:
    """Return the (provider, model) keys that may price `model`, most specific first."""
    provider, model = provider.strip().lower(), model.strip().lower()
    keys = [(provider, model), (provider, _ALIAS_SUFFIX.sub("", model))]
    if "/" in model:  # routed names such as openrouter's "anthropic/claude-sonnet-4"
        upstream, _, name = model.partition("/")
        keys += [(upstream, name), (upstream, _ALIAS_SUFFIX.sub("", name))]
    return tuple(dict.fromkeys(keys))


class PriceTable:
    """An in-memory copy of ModelPrice, tagged with the table version it was read at."""

    def __init__(self, version: tuple, prices: list[Price]) -> None:
        self.version = version
        self._by_key: dict[tuple[str, str], list[Price]] = {}
        for price in sorted(prices, key=lambda p: p.effective_from, reverse=True):
            self._by_key.setdefault((price.provider, price.model), []).append(price)

    def find(self, provider: str, model: str, at: datetime) -> Price | None:
        """Return the price of exactly (provider, model) in force at `at`."""
        for price in self._by_key.get((provider, model), ()):
            if price.effective_from <= at:
                return price
        return None

    def resolve(self, provider: str, model: str, at: datetime) -> tuple[Price | None, bool]:
        """Return (price, is_fallback) for a model, falling back to the provider's, then OpenRouter's default."""
        for key in model_candidates(provider, model):
            price = self.find(*key, at)
            if price is not None:
                return price, False
        fallback = self.find(provider.strip().lower(), DEFAULT_MODEL, at) or self.find(
            FALLBACK_PROVIDER, DEFAULT_MODEL, at
        )
        return fallback, True

    def price_usage(
        self,
        provider: str,
        model: str,
        tokens_in: int,
        tokens_out: int,
        at: datetime,
        *,
        cache_read: int = 0,
        cache_write: int = 0,
        reasoning: int = 0,
    ) -> PricedUsage:
        """Return the cost of this usage; usage without provider, model or tokens costs nothing."""
        if not (provider.strip() or model.strip()) and not (tokens_in or tokens_out):
            return PricedUsage(Decimal(0), None, False)
        price, fallback = self.resolve(provider, model, at)
        if price is None:
            return PricedUsage(Decimal(0), None, True)
        cost = token_cost(
            price, tokens_in, tokens_out, cache_read=cache_read, cache_write=cache_write, reasoning=reasoning
        )
        return PricedUsage(cost, price.id, fallback)

    def in_force(self, at: datetime) -> list[Price]:
        """Return the price of every (provider, model) in force at `at`, sorted by provider and model."""
        found = (self.find(provider, model, at) for provider, model in sorted(self._by_key))
        return [price for price in found if price is not None]


# How long a worker trusts its copy of the table before comparing versions with the database. Writes made through
# this process's ORM drop the copy at once (usage.models.price_table_changed); other workers follow within this.
PRICE_RECHECK_SECONDS = 2.0
_lock = threading.Lock()
_cached: PriceTable | None = None
_checked_at = 0.0


@process_cache("price table")
def forget_price_table() -> None:
    global _cached
    with _lock:
        _cached = None


def _table_version() -> tuple:
    table = ModelPrice._meta.db_table
    with connection.cursor() as cursor:
        # Three subqueries, not one SELECT: each MIN/MAX is then one index lookup instead of a scan of the table.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {table}), (SELECT MAX(updated_at) FROM {table}), "  # noqa: S608 - _meta
            f"(SELECT MAX(id) FROM {table})"
        )
        return tuple(cursor.fetchone())


_UNPRICED_COLUMNS = {"display_name", "updated_at"}


def _rows(columns: list[str]) -> list[tuple]:
    return list(ModelPrice.objects.values_list(*columns))


def price_table() -> PriceTable:
    """Return the current price table: an in-memory copy, re-read when a price row is added, edited or removed."""
    global _cached, _checked_at
    cached, now = _cached, time.monotonic()
    if cached is not None and now - _checked_at < PRICE_RECHECK_SECONDS:
        return cached
    version = _table_version()
    if cached is not None and cached.version == version:
        _checked_at = now
        return cached
    # Plain rows, not model instances: the table holds thousands of prices and is read again after each change.
    columns = [f.attname for f in ModelPrice._meta.concrete_fields if f.name not in _UNPRICED_COLUMNS]
    prices = [Price.from_row(SimpleNamespace(**dict(zip(columns, row, strict=True)))) for row in _rows(columns)]
    table = PriceTable(version, prices)
    with _lock:
        _cached, _checked_at = table, now
    return table


def calculate_token_cost(
    provider: str,
    model: str,
    tokens_in: int,
    tokens_out: int,
    *,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> Decimal:
    """Return the USD cost (Decimal) of the tokens at today's price for this provider and model.

    Cache reads and writes are parts of `tokens_in`, reasoning tokens a part of `tokens_out`.
    """
    counts = {
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "reasoning_tokens": reasoning_tokens,
    }
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise ValueError(f"{name} must be a whole number from 0 to {MAX_COUNT}.")
    if cache_read_tokens + cache_write_tokens > tokens_in or reasoning_tokens > tokens_out:
        raise ValueError("Cache tokens are parts of tokens_in and reasoning tokens a part of tokens_out.")
    usage = price_table().price_usage(
        provider,
        model,
        tokens_in,
        tokens_out,
        timezone.now(),
        cache_read=cache_read_tokens,
        cache_write=cache_write_tokens,
        reasoning=reasoning_tokens,
    )
    return usage.cost
