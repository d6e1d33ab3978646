"""Display formats for the dashboard and the back office: money, counts, percentages."""

from decimal import Decimal

from django import template

from usage.money import money_display, money_str

register = template.Library()


@register.filter
def usd(value: Decimal | None, kind: str = "") -> str:
    """Format a USD amount for people with usage.money.money_display: a total by default ("$1,234.57").

    `|usd:"event"` formats a per-event cost, keeping its sub-cent digits ("$0.0042").
    """
    return money_display(value, per_event=kind == "event")


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
