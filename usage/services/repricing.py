"""Price again the events recorded at a fallback price, once their model has a price of its own."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from usage import pricing, rollups
from usage.models import UsageEvent

_FIELDS = ["cost_usd", "price", "unpriced"]


@transaction.atomic
def unpriced_events_reprice() -> tuple[int, int]:
    """Reprice every `unpriced` event whose model now has a price in force at the event's time.

    Each repriced event gets that price's cost and loses its flag, and every rollup it counts in moves by the
    exact difference, in the same transaction. Returns (events repriced, events still unpriced). Idempotent.
    """
    table = pricing.price_table()
    changed: dict[uuid.UUID, list[tuple[UsageEvent, Decimal]]] = defaultdict(list)
    left = 0
    for event in UsageEvent.objects.select_for_update().filter(unpriced=True).order_by("created_at", "id"):
        priced = table.price_usage(
            event.provider,
            event.model,
            event.tokens_in,
            event.tokens_out,
            event.created_at,
            cache_read=event.cache_read_tokens,
            cache_write=event.cache_write_tokens,
            reasoning=event.reasoning_tokens,
        )
        if priced.unpriced:
            left += 1
            continue
        delta = priced.cost - event.cost_usd
        event.cost_usd, event.price_id, event.unpriced = priced.cost, priced.price_id, False
        changed[event.organization_id].append((event, delta))
    for organization_id, items in changed.items():
        UsageEvent.objects.bulk_update([event for event, _ in items], _FIELDS, batch_size=500)
        rollups.rollups_adjust_cost(organization_id=organization_id, items=items)
    return sum(len(items) for items in changed.values()), left
