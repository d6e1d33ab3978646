"""Record usage events: validated, priced, deduplicated by idempotency key, quota-checked and rolled up, at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.revocation_cache import revocation_cache
from aragora_site.db import db_vendor
from aragora_site.errors import ServiceError
from aragora_site.ids import uuid7
from usage import pricing, rollups, storage
from usage.models import MAX_EVENT_COST, MAX_ROLLUP_COST, MAX_ROLLUP_COUNT, UsageEvent
from usage.periods import current_period_start, month_key
from usage.services.budgets import budget_alerts_check
from usage.services.quota import debates_consume
from usage.storage import PricedEvent
from usage.validation import EventInput, UsageValidationError, batch_errors, events_resolved, uuid_from_text

_RETRIES = 3


class IdempotencyConflict(ServiceError):
    status = 409


class RecordResult:
    """What a recording did. `events` holds the stored event for each input, in input order (built on first use)."""

    def __init__(self, recorded: int = 0, duplicates: int = 0, total_cost: Decimal | None = None) -> None:
        self.recorded = recorded
        self.duplicates = duplicates
        self.total_cost = Decimal(0) if total_cost is None else total_cost
        self.duplicate: list[bool] = []
        self._sources: list[UsageEvent | PricedEvent] = []
        self._events: list[UsageEvent] | None = None

    def extend(self, other: RecordResult) -> None:
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.total_cost += other.total_cost
        self.duplicate += other.duplicate
        self._sources += other._sources
        self._events = None

    @property
    def events(self) -> list[UsageEvent]:
        if self._events is None:
            built: dict[int, UsageEvent] = {}
            for source in self._sources:
                if isinstance(source, PricedEvent) and id(source) not in built:
                    built[id(source)] = source.as_model()
            self._events = [built[id(s)] if isinstance(s, PricedEvent) else s for s in self._sources]
        return self._events

    def receipts(self) -> list[tuple[uuid.UUID, Decimal, bool, bool]]:
        """Return (id, cost, unpriced, duplicate) per input without building model instances."""
        return [
            (source.id, source.cost_usd, source.unpriced, duplicate)
            for source, duplicate in zip(self._sources, self.duplicate, strict=True)
        ]


def _priced(
    organization: Organization, e: EventInput, table: pricing.PriceTable, now: datetime, api_key_id: uuid.UUID | None
) -> PricedEvent:
    occurred = e.occurred_at_utc() or now
    provider, model = e.provider.strip(), e.model.strip()
    usage = table.price_usage(
        provider,
        model,
        e.tokens_in,
        e.tokens_out,
        occurred,
        cache_read=e.cache_read_tokens,
        cache_write=e.cache_write_tokens,
        reasoning=e.reasoning_tokens,
    )
    user_id = e.user_id if isinstance(e.user_id, uuid.UUID) or e.user_id is None else uuid_from_text(str(e.user_id))
    return PricedEvent(
        id=uuid7(),
        organization_id=organization.pk,
        user_id=user_id,
        api_key_id=api_key_id,
        event_type=str(e.event_type),
        provider=provider,
        model=model,
        tokens_in=e.tokens_in,
        tokens_out=e.tokens_out,
        cache_read_tokens=e.cache_read_tokens,
        cache_write_tokens=e.cache_write_tokens,
        reasoning_tokens=e.reasoning_tokens,
        cost_usd=usage.cost,
        unpriced=usage.unpriced,
        price_id=usage.price_id,
        metadata=e.metadata or {},
        idempotency_key=e.idempotency_key or "",
        fingerprint=e.fingerprint() if e.idempotency_key else "",
        created_at=occurred,
        recorded_at=now,
    )


def _membership_errors(organization: Organization, events: Sequence[PricedEvent]) -> dict[int, dict[str, list[str]]]:
    wanted = {e.user_id for e in events if e.user_id}
    if not wanted:
        return {}
    # Members already seen are remembered until the revocation epoch moves (any user who leaves moves it);
    # only ids not seen yet cost a query.
    members: set[uuid.UUID] = revocation_cache.local(f"usage:members:{organization.pk}", set)
    if missing := wanted - members:
        members |= storage.member_ids(organization.pk, missing)
    return {
        i: {"user_id": ["No member of this organization has this id."]}
        for i, e in enumerate(events)
        if e.user_id and e.user_id not in members
    }


def _validated(
    organization: Organization, events: Sequence[EventInput], now: datetime, api_key_id: uuid.UUID | None
) -> list[PricedEvent]:
    """Validate and price every event, or raise UsageValidationError listing every problem."""
    events = events_resolved(list(events))  # provider usage blocks read once, here
    if errors := batch_errors(events, now):
        raise UsageValidationError(errors)
    table = pricing.price_table()
    rows = [_priced(organization, e, table, now, api_key_id) for e in events]
    if errors := _membership_errors(organization, rows):
        raise UsageValidationError(errors)
    for i, row in enumerate(rows):
        if row.cost_usd > MAX_EVENT_COST:
            errors[i] = {"tokens_in": [f"This usage would cost more than {MAX_EVENT_COST} USD in one event."]}
    tokens = sum(r.tokens_in + r.tokens_out for r in rows)
    if tokens > MAX_ROLLUP_COUNT or sum(r.cost_usd for r in rows) > MAX_ROLLUP_COST:
        errors[0] = {"events": ["This batch is too large to count: split it."]}
    if errors:
        raise UsageValidationError(errors)
    return rows


def usage_events_record(
    *,
    organization: Organization,
    events: Sequence[EventInput],
    now: datetime | None = None,
    api_key_id: uuid.UUID | str | None = None,
) -> RecordResult:
    """Record a batch of events all-or-nothing: priced, deduplicated by idempotency key, rolled up, quota-checked.

    `api_key_id` names the API key that sent them, so that each key's spend can be shown.

    Raises UsageValidationError (400), IdempotencyConflict (409), QuotaExceeded / BudgetExceeded (402).
    """
    now = now or timezone.now()
    key_id = uuid.UUID(str(api_key_id)) if api_key_id else None
    priced = _validated(organization, events, now, key_id)
    # Everything that needs no lock is done before the write transaction (SQLite takes its lock at BEGIN).
    params = dict(zip(map(id, priced), storage.events_params(priced), strict=True))
    for attempt in range(_RETRIES):
        try:
            return _record(organization, priced, params)
        except (IntegrityError, DataError) as exc:
            if _is_out_of_range(exc):
                raise ServiceError(
                    "This usage would push a counter of the organization past its range.",
                    code="usage_out_of_range",
                    status=400,
                ) from exc
            keyed = [r.idempotency_key for r in priced if r.idempotency_key]
            # A concurrent request stored one of these keys first: classify them again.
            if attempt == _RETRIES - 1 or not keyed:
                raise
            # The rolled-back attempt may have counted debates on this instance.
            organization.refresh_from_db(fields=["tier", "debates_used", "period_start", "grace_until"])
    raise AssertionError("unreachable")


def _is_out_of_range(exc: Exception) -> bool:
    text = str(exc).lower()
    return "_bounds" in text or "out of range" in text or "overflow" in text


@transaction.atomic
def _record(organization: Organization, rows: list[PricedEvent], params: dict[int, list]) -> RecordResult:
    plan, fresh = _idempotency_plan(organization, rows)
    budget = storage.budget_get(organization.pk)
    debates_consume(organization, fresh, budget)
    rows_params = [params[id(row)] for row in fresh]
    insert = None
    if fresh and len(fresh) <= (storage.INLINE_EVENTS if db_vendor() == "postgresql" else 1):
        insert = storage.events_insert_statement(rows_params)  # with the rollups: one statement on PostgreSQL
    else:
        storage.events_insert(rows_params)
    month_totals = rollups.rollups_apply(
        organization_id=organization.pk, items=fresh, insert=insert, month_totals=budget is not None
    )
    if budget is not None and (current := month_key(current_period_start())) in month_totals:
        budget_alerts_check(organization, budget, month_totals[current])
    result = RecordResult(
        recorded=len(fresh),
        duplicates=len(rows) - len(fresh),
        total_cost=sum((r.cost_usd for r in fresh), Decimal(0)),
    )
    result._sources = [fresh[step] if isinstance(step, int) else step for step, _ in plan]
    result.duplicate = [is_duplicate for _, is_duplicate in plan]
    return result


def _idempotency_plan(
    org: Organization, priced: list[PricedEvent]
) -> tuple[list[tuple[UsageEvent | int, bool]], list[PricedEvent]]:
    """Return, for each input, (the stored event or its index among the events to insert, is it a duplicate).

    The same key with the same body is a duplicate; with a different body it is a conflict (nothing is written).
    """
    keys = {r.idempotency_key for r in priced if r.idempotency_key}
    stored = {}
    if keys:
        stored = {e.idempotency_key: e for e in UsageEvent.objects.filter(organization=org, idempotency_key__in=keys)}
    first_seen: dict[str, tuple[int, str]] = {}
    plan: list[tuple[UsageEvent | int, bool]] = []
    fresh: list[PricedEvent] = []
    for p in priced:
        key = p.idempotency_key
        duplicate = True
        if key in stored:
            known, step = stored[key].fingerprint, stored[key]
        elif key in first_seen:
            step, known = first_seen[key]
        else:
            step, known, duplicate = len(fresh), p.fingerprint, False
            fresh.append(p)
            if key:
                first_seen[key] = (step, known)
        if known != p.fingerprint:
            raise IdempotencyConflict(
                f"Idempotency key {key!r} was already used with a different body.", code="idempotency_conflict"
            )
        plan.append((step, duplicate))
    return plan, fresh
