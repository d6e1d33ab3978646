"""Exact USD amounts: the money column (exact in SQL on every database), rounding, plain text, display for people."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.db import models

COST_DECIMAL_PLACES = 10
COST_QUANTUM = Decimal(1).scaleb(-COST_DECIMAL_PLACES)


def quantize_cost(value: Decimal) -> Decimal:
    """Return `value` rounded half-even to the stored precision (1e-10 USD)."""
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


class MoneyField(models.DecimalField):
    """A USD amount: NUMERIC on PostgreSQL, a scaled 64-bit integer on SQLite.

    SQLite has no exact decimal type: a NUMERIC column keeps 15 significant digits as a float, so
    `SUM(cost)` and `total = total + excluded.total` would drift. Storing an integer count of
    1e-10 USD keeps every sum exact there; on PostgreSQL NUMERIC is exact already.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 22)
        kwargs.setdefault("decimal_places", COST_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "MoneyField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return "bigint"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def cast_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not (prepared or (type(value) is Decimal and value.is_finite())):  # a finite Decimal needs no conversion
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        value = value.quantize(Decimal(1).scaleb(-self.decimal_places), rounding=ROUND_HALF_EVEN)
        if connection.vendor == "sqlite":
            return int(value.scaleb(self.decimal_places))
        return connection.ops.adapt_decimalfield_value(value, self.max_digits, self.decimal_places)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if connection.vendor == "sqlite":
            return Decimal(int(value)).scaleb(-self.decimal_places)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.decimal_places))


def money_str(value: Decimal) -> str:
    """Return a USD amount as plain text with at least two decimals and no trailing noise ("0.00000014")."""
    text = f"{value.normalize():f}" if value else "0"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


PER_EVENT_SIGNIFICANT_DIGITS = 4


def money_display(value: Decimal | int | str | None, *, per_event: bool = False) -> str:
    """Return a USD amount for people, the one format of pages, admin and charts.

    Totals have two decimals ("$1,234.57"). Per-event costs keep up to four significant digits, so a
    cost below a cent stays visible ("$0.0042", "$0.00000014"), and never fewer than two decimals.
    Rounding is half-up; there is never exponent notation; None is "—".
    """
    if value is None:
        return "—"
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"Not an amount of money: {value!r}")
    places = 2
    if per_event and amount:
        places = max(2, PER_EVENT_SIGNIFICANT_DIGITS - 1 - amount.adjusted())
    with localcontext() as context:
        context.prec = max(context.prec, amount.adjusted() + places + 2)
        rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{abs(rounded):,f}".partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    sign = "-" if rounded < 0 else ""  # an amount that rounds to zero has no sign
    return f"{sign}${whole}.{frac}"
