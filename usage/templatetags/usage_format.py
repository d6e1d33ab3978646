"""Display formats for the dashboard: money, counts, percentages."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from usage.money import money_str

register = template.Library()


@register.filter
def usd(value: Decimal | None) -> str:
    """Format a USD amount for people: "$1,234.57", and four decimals below a dollar ("$0.0042")."""
    if value is None:
        return "—"
    value = Decimal(value)
    if value and abs(value) < 1:
        return f"${value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


@register.filter
def compact(value: int | None) -> str:
    """Format a count compactly: 950, 12.4K, 3.1M, 2.0B."""
    if value is None:
        return "—"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return str(value)


@register.filter
def share(part: Decimal | int, whole: Decimal | int) -> int:
    """Return `part` as a whole percentage of `whole` (0 when whole is 0), capped at 100 for bar widths."""
    if not whole:
        return 0
    return min(int(Decimal(part) * 100 / Decimal(whole)), 100)


@register.filter
def money(value: Decimal | None) -> str:
    """The exact amount as the API shows it ("12.50", "0.00000014")."""
    return "" if value is None else money_str(Decimal(value))
