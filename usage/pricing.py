"""Token prices: looked up from the ModelPrice table, cached per process until the table changes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from django.db import connection
from django.utils import timezone

from aragora_site.caches import process_cache
from usage.models import MAX_COUNT, ModelPrice
from usage.money import quantize_cost

MILLION = Decimal(1_000_000)
FALLBACK_PROVIDER = "openrouter"
DEFAULT_MODEL = "default"
# Dated or floating aliases of a model: claude-sonnet-4-20250514, gpt-4o-2024-08-06, claude-3@20240229, x-latest
_ALIAS_SUFFIX = re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2})|-latest)$")


@dataclass(frozen=True)
class Price:
    id: int
    provider: str
    model: str
    input_per_million: Decimal
    output_per_million: Decimal
    effective_from: datetime


@dataclass(frozen=True)
class PricedUsage:
    """The cost of some usage, the price row that set it, and whether that row was only a fallback."""

    cost: Decimal
    price_id: int | None
    unpriced: bool


def token_cost(price: Price, tokens_in: int, tokens_out: int) -> Decimal:
    """Return the exact cost of the tokens at `price`, rounded half-even to 1e-10 USD."""
    with localcontext() as ctx:
        ctx.prec = 60
        raw = (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / MILLION
        return quantize_cost(raw)


def model_candidates(provider: str, model: str) -> list[tuple[str, str]]:
    """Return the (provider, model) keys that may price `model`, most specific first."""
    provider, model = provider.strip().lower(), model.strip().lower()
    keys = [(provider, model), (provider, _ALIAS_SUFFIX.sub("", model))]
    if "/" in model:  # routed names such as openrouter's "anthropic/claude-sonnet-4"
        upstream, _, name = model.partition("/")
        keys += [(upstream, name), (upstream, _ALIAS_SUFFIX.sub("", name))]
    return list(dict.fromkeys(keys))


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

    def price_usage(self, provider: str, model: str, tokens_in: int, tokens_out: int, at: datetime) -> PricedUsage:
        """Return the cost of this usage; usage without provider, model or tokens costs nothing."""
        if not (provider.strip() or model.strip()) and not (tokens_in or tokens_out):
            return PricedUsage(Decimal(0), None, False)
        price, fallback = self.resolve(provider, model, at)
        if price is None:
            return PricedUsage(Decimal(0), None, True)
        return PricedUsage(token_cost(price, tokens_in, tokens_out), price.id, fallback)


_lock = threading.Lock()
_cached: PriceTable | None = None


@process_cache("price table")
def forget_price_table() -> None:
    global _cached
    with _lock:
        _cached = None


def _table_version() -> tuple:
    table = ModelPrice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(updated_at), MAX(id) FROM {table}")  # noqa: S608 - name from _meta
        return tuple(cursor.fetchone())


def price_table() -> PriceTable:
    """Return the current price table: cached, but re-read as soon as any price row is added, edited or removed."""
    global _cached
    version = _table_version()
    cached = _cached
    if cached is not None and cached.version == version:
        return cached
    prices = [
        Price(p.id, p.provider, p.model, p.input_per_million, p.output_per_million, p.effective_from)
        for p in ModelPrice.objects.all()
    ]
    table = PriceTable(version, prices)
    with _lock:
        _cached = table
    return table


def calculate_token_cost(provider: str, model: str, tokens_in: int, tokens_out: int) -> Decimal:
    """Return the USD cost (Decimal) of the tokens at today's price for this provider and model."""
    for name, value in (("tokens_in", tokens_in), ("tokens_out", tokens_out)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise ValueError(f"{name} must be a whole number from 0 to {MAX_COUNT}.")
    return price_table().price_usage(provider, model, tokens_in, tokens_out, timezone.now()).cost
