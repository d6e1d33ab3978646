"""The seed's Python API: `UsageTracker`, `UsageEvent`, `UsageEventType`, `calculate_token_cost`.

from usage.tracker import UsageTracker, UsageEventType, calculate_token_cost

tracker = UsageTracker()
tracker.record_event(org_id=org.id, user_id=user.id, event_type=UsageEventType.DEBATE,
                     provider="anthropic", model="claude-sonnet-4", tokens_in=1500, tokens_out=800)
tracker.get_usage_summary(org_id=org.id, start_date=datetime.now() - timedelta(days=30))
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.db import transaction

from accounts.models import Organization
from aragora_site.caches import process_cache
from aragora_site.errors import ServiceError
from usage import selectors
from usage.models import UsageEvent, UsageEventType
from usage.pricing import calculate_token_cost
from usage.services.quota import BudgetExceeded, QuotaExceeded
from usage.services.recording import IdempotencyConflict, RecordResult, usage_events_record
from usage.validation import EventInput, UsageValidationError

__all__ = [
    "BudgetExceeded",
    "IdempotencyConflict",
    "QuotaExceeded",
    "RecordResult",
    "UsageEvent",
    "UsageEventType",
    "UsageTracker",
    "UsageValidationError",
    "calculate_token_cost",
]

_EVENT_FIELDS = set(EventInput.__dataclass_fields__)


# Organizations the tracker has seen, for a short while: recording needs only the id (debates re-read the
# quota fields inside their transaction), so a warm record_event costs no organization query.
ORGANIZATION_SECONDS = 30.0
_organizations: dict[uuid.UUID, tuple[Organization, float]] = {}


@process_cache("organizations seen by the usage tracker")
def forget_organizations() -> None:
    _organizations.clear()


def _organization(org_id: Any) -> Organization:
    """Return the organization, or raise a 404 error."""
    try:
        pk = org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id))
    except ValueError:
        pk = None
    now = time.monotonic()
    seen = _organizations.get(pk) if pk else None
    if seen is not None and now - seen[1] < ORGANIZATION_SECONDS:
        return seen[0]
    org = Organization.objects.filter(pk=pk).order_by().first() if pk else None
    if org is None:
        raise ServiceError("No organization has this id.", code="organization_not_found", status=404)
    if len(_organizations) > 10_000:
        _organizations.clear()
    _organizations[pk] = (org, now)
    return org


class UsageTracker:
    """Records usage and answers summaries through Django's database (SQLite or PostgreSQL).

    `db_path` is accepted for compatibility with `UsageTracker("usage.db")` and not used: the
    database is the one in Django's settings.
    """

    def __init__(self, db_path: str | None = None) -> None:
        self.db_path = db_path

    def record_event(
        self,
        org_id: Any,
        user_id: Any,
        event_type: UsageEventType | str,
        provider: str = "",
        model: str = "",
        tokens_in: int = 0,
        tokens_out: int = 0,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        usage: dict[str, Any] | None = None,
    ) -> UsageEvent:
        """Record one event and return it as stored; a retry with the same idempotency key returns the original.

        Cache reads and writes are parts of `tokens_in`, reasoning tokens a part of `tokens_out`; or pass the
        provider's own usage block as `usage` instead of any count.

        Raises UsageValidationError, QuotaExceeded (a DEBATE over the tier's quota), BudgetExceeded,
        IdempotencyConflict (same key, different event).
        """
        event = EventInput(
            event_type=event_type,
            provider=provider or "",
            model=model or "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            user_id=user_id,
            metadata=metadata,
            idempotency_key=idempotency_key,
            occurred_at=occurred_at,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
            usage=usage,
        )
        return usage_events_record(organization=_organization(org_id), events=[event]).events[0]

    def record_events(self, events: Iterable[Mapping[str, Any]]) -> RecordResult:
        """Record many events (mappings of record_event's arguments, each with `org_id`) in one transaction."""
        by_org: dict[str, list[EventInput]] = {}
        for item in events:
            item = dict(item)
            org_id = str(item.pop("org_id", ""))
            unknown = set(item) - _EVENT_FIELDS
            if unknown:
                raise UsageValidationError({0: {name: ["Unknown field."] for name in sorted(unknown)}})
            by_org.setdefault(org_id, []).append(EventInput(**item))
        result = RecordResult()
        with transaction.atomic():
            for org_id, batch in by_org.items():
                result.extend(usage_events_record(organization=_organization(org_id), events=batch))
        return result

    def get_usage_summary(
        self, org_id: Any, start_date: date | datetime, end_date: date | datetime | None = None
    ) -> dict[str, Any]:
        """Return totals (debates, API calls, tokens in/out, cost as Decimal) and per-provider/model breakdowns."""
        return selectors.usage_summary(organization_id=_organization(org_id).pk, start=start_date, end=end_date)
