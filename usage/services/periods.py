"""Period rollover and the repair of rollups: both safe to run at any time."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from accounts.models import Organization
from usage import rollups


def organization_periods_rollover() -> int:
    """Start the current period for every organization still in an older one; return how many moved.

    One conditional UPDATE: safe to run at any time and any number of times, concurrently with recording.
    """
    return Organization.objects.period_rollover()


def usage_aggregates_rebuild(
    *, organization_id: uuid.UUID | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute every rollup from the raw events, one organization-month per transaction; return events seen."""
    pairs = rollups.months_to_rebuild(organization_id=organization_id)
    total = 0
    for done, (org_id, month) in enumerate(pairs, start=1):
        total += rollups.rollups_rebuild_month(organization_id=org_id, month=month)
        if progress is not None:
            progress(done, len(pairs))
    return total
