"""Writes for usage: recording events (quota, idempotency, rollups, budget alerts), budgets, rollover, repair."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DataError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from accounts.models import Organization, User, current_period_start
from accounts.services import ServiceError
from billing.services.grace import organization_grace_enforce
from usage import pricing, rollups
from usage.models import (
    MAX_COUNT,
    MAX_EVENT_COST,
    MAX_ROLLUP_COST,
    MAX_ROLLUP_COUNT,
    Budget,
    BudgetAlert,
    DeliveryStatus,
    UsageEvent,
    UsageEventType,
    UsageMonthly,
)

logger = logging.getLogger("aragora.usage")

FUTURE_SKEW = timedelta(minutes=5)
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
MAX_BUDGET = Decimal("1000000000")
_RETRIES = 3


class UsageValidationError(ServiceError):
    """Some events are invalid; `errors` maps each bad item's index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__("The usage is invalid.", code="invalid", status=400)
        self.errors = errors


class QuotaExceeded(ServiceError):
    status = 402


class BudgetExceeded(ServiceError):
    status = 402


class IdempotencyConflict(ServiceError):
    status = 409


@dataclass(frozen=True)
class EventInput:
    """One event as a client describes it (before pricing)."""

    event_type: str
    provider: str = ""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    user_id: uuid.UUID | str | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None
    occurred_at: datetime | None = None

    def fingerprint(self) -> str:
        """Return a SHA-256 of everything the client sent except the key itself (same body -> same print)."""
        body = {
            "event_type": str(self.event_type),
            "provider": self.provider,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "user_id": str(self.user_id) if self.user_id else None,
            "metadata": self.metadata or {},
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RecordResult:
    """What a recording did. `events` holds the stored event for each input, in input order (built on first use)."""

    def __init__(self, recorded: int = 0, duplicates: int = 0, total_cost: Decimal | None = None) -> None:
        self.recorded = recorded
        self.duplicates = duplicates
        self.total_cost = Decimal(0) if total_cost is None else total_cost
        self.duplicate: list[bool] = []
        self._sources: list[UsageEvent | _Row] = []
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
                if not isinstance(source, UsageEvent) and id(source) not in built:
                    built[id(source)] = source.instance()
            self._events = [s if isinstance(s, UsageEvent) else built[id(s)] for s in self._sources]
        return self._events

    def receipts(self) -> list[tuple[uuid.UUID, Decimal, bool, bool]]:
        """Return (id, cost, unpriced, duplicate) per input without building model instances."""
        out = []
        for source, duplicate in zip(self._sources, self.duplicate, strict=True):
            if isinstance(source, UsageEvent):
                out.append((source.id, source.cost_usd, source.unpriced, duplicate))
            else:
                out.append((source.id, source.cost, source.unpriced, duplicate))
        return out


# ---------------------------------------------------------------------------
# Validation (shared by the Python API and the HTTP API)
# ---------------------------------------------------------------------------
def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EVENT_TYPES = frozenset(UsageEventType.values)


def _text_errors(value: Any, *, max_length: int, allow_blank: bool = True) -> list[str]:
    if not isinstance(value, str):
        return ["Must be a string."]
    if not allow_blank and not value.strip():
        return ["May not be blank."]
    if len(value) > max_length:
        return [f"At most {max_length} characters."]
    if _CONTROL.search(value):
        return ["May not contain control characters."]
    if _SURROGATE.search(value):
        return ["May not contain lone UTF-16 surrogates."]
    return []


def _json_strings(value: Any) -> Iterator[str]:
    """Yield every key and string value inside a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def _metadata_errors(value: Any) -> list[str]:
    if not value:
        return [] if value is None or isinstance(value, dict) else ["Must be a JSON object."]
    if not isinstance(value, dict):
        return ["Must be a JSON object."]
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return ["Must be plain JSON (no NaN, Infinity or non-JSON values)."]
    # PostgreSQL's jsonb cannot hold NUL characters or lone surrogates: refuse them on every database.
    if any("\x00" in item or _SURROGATE.search(item) for item in _json_strings(value)):
        return ["May not contain NUL characters or lone UTF-16 surrogates."]
    size = len(text.encode())
    limit = settings.USAGE_MAX_METADATA_BYTES
    return [f"At most {limit} bytes of JSON."] if size > limit else []


def _occurred_at_errors(value: Any, now: datetime) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, datetime):
        return ["Must be a date-time."]
    moment = value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if moment > now + FUTURE_SKEW:
        return ["May not be in the future."]
    if moment < now - timedelta(days=settings.USAGE_MAX_BACKDATE_DAYS):
        return [f"May be at most {settings.USAGE_MAX_BACKDATE_DAYS} days in the past."]
    return []


def event_errors(event: EventInput, now: datetime) -> dict[str, list[str]]:
    """Return {field: [messages]} for everything wrong with one event (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if str(event.event_type) not in _EVENT_TYPES:
        errors["event_type"] = [f"Must be one of: {', '.join(UsageEventType.values)}."]
    for name, limit in (("provider", 64), ("model", 128)):
        if problems := _text_errors(getattr(event, name), max_length=limit):
            errors[name] = problems
    for name in ("tokens_in", "tokens_out"):
        value = getattr(event, name)
        if not _is_count(value):
            bad_float = isinstance(value, float) and not math.isfinite(value)
            errors[name] = ["Must be finite." if bad_float else f"Must be a whole number from 0 to {MAX_COUNT}."]
    if event.user_id is not None:
        try:
            uuid.UUID(str(event.user_id))
        except ValueError:
            errors["user_id"] = ["Must be a UUID."]
    if problems := _metadata_errors(event.metadata):
        errors["metadata"] = problems
    if event.idempotency_key is not None and (
        problems := _text_errors(event.idempotency_key, max_length=255, allow_blank=False)
    ):
        errors["idempotency_key"] = problems
    if problems := _occurred_at_errors(event.occurred_at, now):
        errors["occurred_at"] = problems
    return errors


def _membership_errors(organization: Organization, events: Sequence[_Row]) -> dict[int, dict[str, list[str]]]:
    wanted = {e.user_id for e in events if e.user_id}
    if not wanted:
        return {}
    members = {uuid.UUID(str(pk)) for pk in _member_ids(organization, wanted)}
    return {
        i: {"user_id": ["No member of this organization has this id."]}
        for i, e in enumerate(events)
        if e.user_id and e.user_id not in members
    }


def _member_ids(organization: Organization, wanted: set[uuid.UUID]) -> list[Any]:
    placeholders = ", ".join(["%s"] * len(wanted))
    sql = (
        f"SELECT id FROM {User._meta.db_table} "  # noqa: S608 - name from _meta
        f"WHERE organization_id = %s AND id IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_uuid_db(organization.pk), *(_uuid_db(w) for w in wanted)])
        return [row[0] for row in cursor.fetchall()]


@dataclass(slots=True)
class _Row:
    """One valid, priced event, normalized, ready to insert."""

    id: uuid.UUID
    event_type: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    user_id: uuid.UUID | None
    metadata: dict[str, Any]
    idempotency_key: str
    fingerprint: str
    created_at: datetime
    recorded_at: datetime
    cost: Decimal
    unpriced: bool
    price_id: int | None
    organization_id: uuid.UUID | None = None

    def instance(self) -> UsageEvent:
        """Return the row as a UsageEvent, as if loaded from the database."""
        values = {
            "id": self.id,
            "organization_id": self.organization_id,
            "user_id": self.user_id,
            "event_type": self.event_type,
            "provider": self.provider,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost,
            "unpriced": self.unpriced,
            "price_id": self.price_id,
            "metadata": self.metadata,
            "idempotency_key": self.idempotency_key,
            "fingerprint": self.fingerprint,
            "created_at": self.created_at,
            "recorded_at": self.recorded_at,
        }
        return UsageEvent.from_db(DEFAULT_DB_ALIAS, None, [values[f.attname] for f in UsageEvent._meta.concrete_fields])


def _row(e: EventInput, table: pricing.PriceTable, now: datetime) -> _Row:
    occurred = e.occurred_at
    if occurred is not None and timezone.is_naive(occurred):
        occurred = occurred.replace(tzinfo=UTC)
    occurred = occurred or now
    provider, model = e.provider.strip(), e.model.strip()
    usage = table.price_usage(provider, model, e.tokens_in, e.tokens_out, occurred)
    user_id = e.user_id if isinstance(e.user_id, uuid.UUID) or e.user_id is None else uuid.UUID(str(e.user_id))
    return _Row(
        id=uuid.uuid4(),
        event_type=str(e.event_type),
        provider=provider,
        model=model,
        tokens_in=e.tokens_in,
        tokens_out=e.tokens_out,
        user_id=user_id,
        metadata=e.metadata or {},
        idempotency_key=e.idempotency_key or "",
        fingerprint=e.fingerprint() if e.idempotency_key else "",
        created_at=occurred,
        recorded_at=now,
        cost=usage.cost,
        unpriced=usage.unpriced,
        price_id=usage.price_id,
    )


def _validated(organization: Organization, events: Sequence[EventInput], now: datetime) -> list[_Row]:
    """Validate and price every event, or raise UsageValidationError listing every problem."""
    if not events:
        raise UsageValidationError({0: {"events": ["Send at least one event."]}})
    if len(events) > settings.USAGE_MAX_BATCH_EVENTS:
        raise UsageValidationError({0: {"events": [f"At most {settings.USAGE_MAX_BATCH_EVENTS} events per batch."]}})
    errors = {i: problems for i, e in enumerate(events) if (problems := event_errors(e, now))}
    if errors:
        raise UsageValidationError(errors)
    table = pricing.price_table()
    rows = [_row(e, table, now) for e in events]
    if errors := _membership_errors(organization, rows):
        raise UsageValidationError(errors)
    for i, row in enumerate(rows):
        row.organization_id = organization.pk
        if row.cost > MAX_EVENT_COST:
            errors[i] = {"tokens_in": [f"This usage would cost more than {MAX_EVENT_COST} USD in one event."]}
    if sum(r.tokens_in + r.tokens_out for r in rows) > MAX_ROLLUP_COUNT or sum(r.cost for r in rows) > MAX_ROLLUP_COST:
        errors[0] = {"events": ["This batch is too large to count: split it."]}
    if errors:
        raise UsageValidationError(errors)
    return rows


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------
def usage_events_record(
    *, organization: Organization, events: Sequence[EventInput], now: datetime | None = None
) -> RecordResult:
    """Record a batch of events all-or-nothing: priced, deduplicated by idempotency key, rolled up, quota-checked.

    Raises UsageValidationError (400), IdempotencyConflict (409), QuotaExceeded / BudgetExceeded (402).
    """
    now = now or timezone.now()
    priced = _validated(organization, events, now)
    for attempt in range(_RETRIES):
        try:
            return _record(organization, priced, now)
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
            if not organization.get_deferred_fields():  # the rolled-back attempt may have counted debates
                organization.refresh_from_db(fields=["tier", "debates_used", "period_start", "grace_until"])
    raise AssertionError("unreachable")


def _is_out_of_range(exc: Exception) -> bool:
    text = str(exc).lower()
    return "_bounds" in text or "out of range" in text or "overflow" in text


@transaction.atomic
def _record(organization: Organization, rows: list[_Row], now: datetime) -> RecordResult:
    plan, fresh = _idempotency_plan(organization, rows)
    debates = sum(1 for r in fresh if r.event_type == UsageEventType.DEBATE)
    budget = _budget(organization)
    if debates:
        # The API hands over the organization it just loaded; the Python tracker hands over only its id.
        org = Organization.objects.get(pk=organization.pk) if organization.get_deferred_fields() else organization
        organization_grace_enforce(organization=org)  # a lapsed grace period's limits apply from now
        _debates_consume(org, debates, budget)
    _events_insert(fresh)
    month_totals = rollups.rollups_apply(organization_id=organization.pk, items=fresh)
    current = rollups.month_key(current_period_start())
    if budget is not None and current in month_totals:
        _budget_alerts_check(organization, budget, month_totals[current])
    result = RecordResult(
        recorded=len(fresh), duplicates=len(rows) - len(fresh), total_cost=sum((r.cost for r in fresh), Decimal(0))
    )
    result._sources = [fresh[step] if isinstance(step, int) else step for step, _ in plan]
    result.duplicate = [is_duplicate for _, is_duplicate in plan]
    return result


def _budget(organization: Organization) -> Budget | None:
    sql = (
        f"SELECT monthly_budget_usd, alert_thresholds, hard_limit FROM {Budget._meta.db_table} "  # noqa: S608
        "WHERE organization_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_uuid_db(organization.pk)])
        row = cursor.fetchone()
    if row is None:
        return None
    amount, thresholds, hard_limit = row
    return Budget(
        organization_id=organization.pk,
        monthly_budget_usd=None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
        alert_thresholds=json.loads(thresholds) if isinstance(thresholds, str) else thresholds,
        hard_limit=bool(hard_limit),
    )


# The recording hot path writes with hand-built SQL: compiling an ORM INSERT costs more than executing it.
_EVENT_FIELDS = [
    "id",
    "organization_id",
    "user_id",
    "event_type",
    "provider",
    "model",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "unpriced",
    "price_id",
    "metadata",
    "idempotency_key",
    "fingerprint",
    "created_at",
    "recorded_at",
]
assert sorted(_EVENT_FIELDS) == sorted(f.attname for f in UsageEvent._meta.concrete_fields)  # noqa: S101
_COST_FIELD = UsageEvent._meta.get_field("cost_usd")


def _uuid_db(value: uuid.UUID | None) -> Any:
    if value is None:
        return None
    return value if connection.features.has_native_uuid_field else value.hex


def _events_insert(rows: list[_Row]) -> None:
    if not rows:
        return
    conn = connections[DEFAULT_DB_ALIAS]
    meta = UsageEvent._meta
    columns = ", ".join(conn.ops.quote_name(meta.get_field(name).column) for name in _EVENT_FIELDS)
    sql = f"INSERT INTO {meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(_EVENT_FIELDS))})"  # noqa: S608
    native_uuid = conn.features.has_native_uuid_field
    stamps: dict[datetime, Any] = {}

    def stamp(moment: datetime) -> Any:
        if moment not in stamps:
            stamps[moment] = conn.ops.adapt_datetimefield_value(moment)
        return stamps[moment]

    def uid(value: uuid.UUID | None) -> Any:
        return value if native_uuid or value is None else value.hex

    empty_json = conn.ops.adapt_json_value({}, None)
    params = [
        [
            uid(r.id),
            uid(r.organization_id),
            uid(r.user_id),
            r.event_type,
            r.provider,
            r.model,
            r.tokens_in,
            r.tokens_out,
            _COST_FIELD.get_db_prep_value(r.cost, conn),
            r.unpriced,
            r.price_id,
            conn.ops.adapt_json_value(r.metadata, None) if r.metadata else empty_json,
            r.idempotency_key,
            r.fingerprint,
            stamp(r.created_at),
            stamp(r.recorded_at),
        ]
        for r in rows
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql, params)


def _idempotency_plan(org: Organization, priced: list[_Row]) -> tuple[list[tuple[UsageEvent | int, bool]], list[_Row]]:
    """Return, for each input, (the stored event or its index among the events to insert, is it a duplicate).

    The same key with the same body is a duplicate; with a different body it is a conflict (nothing is written).
    """
    keys = {r.idempotency_key for r in priced if r.idempotency_key}
    stored = {}
    if keys:
        stored = {e.idempotency_key: e for e in UsageEvent.objects.filter(organization=org, idempotency_key__in=keys)}
    first_seen: dict[str, tuple[int, str]] = {}
    plan: list[tuple[UsageEvent | int, bool]] = []
    fresh: list[_Row] = []
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


# ---------------------------------------------------------------------------
# Quota and budget
# ---------------------------------------------------------------------------
def _organization_period_rollover(org: Organization) -> None:
    start = current_period_start()
    if org.period_start < start:
        Organization.objects.filter(pk=org.pk, period_start__lt=start).update(
            debates_used=0, period_start=start, updated_at=timezone.now()
        )
        org.refresh_from_db(fields=["debates_used", "period_start"])


def _debates_consume(org: Organization, count: int, budget: Budget | None) -> None:
    """Take `count` debates from this period's quota, or raise (the caller's transaction undoes partial takes)."""
    if budget is not None and budget.hard_limit and budget.monthly_budget_usd is not None:
        spend = period_spend(organization_id=org.pk)
        if spend >= budget.monthly_budget_usd:
            raise BudgetExceeded(
                f"This period's spend ({money_str(spend)} USD) has reached the budget "
                f"({money_str(budget.monthly_budget_usd)} USD) and the budget is a hard limit.",
                code="budget_exceeded",
            )
    _organization_period_rollover(org)
    limit = org.limits.debates_per_month
    if limit is not None and org.debates_used + count > limit:
        _quota_refuse(org, count)
    if not org.increment_debates(count):
        _quota_refuse(org, count)


def _quota_refuse(org: Organization, count: int) -> None:
    limit = org.limits.debates_per_month
    remaining = max((limit or 0) - org.debates_used, 0)
    needed = "a debate" if count == 1 else f"{count} debates"
    raise QuotaExceeded(
        f"The {org.get_tier_display()} tier includes {limit} debates a month and {remaining} remain; "
        f"recording {needed} needs an upgrade or the next period.",
        code="quota_exceeded",
    )


def period_spend(*, organization_id: uuid.UUID) -> Decimal:
    """Return the organization's spend in the current period (from the monthly rollup)."""
    month = rollups.month_key(current_period_start())
    row = UsageMonthly.objects.filter(organization_id=organization_id, month=month).values_list("total_cost").first()
    return row[0] if row else Decimal(0)


def money_str(value: Decimal) -> str:
    """Return a USD amount as plain text with at least two decimals and no trailing noise ("0.00000014")."""
    text = f"{value.normalize():f}" if value else "0"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _thresholds_crossed(budget: Budget, spend: Decimal) -> list[int]:
    if budget.monthly_budget_usd is None:
        return []
    return sorted(t for t in set(budget.alert_thresholds) if spend * 100 >= budget.monthly_budget_usd * t)


def _budget_alerts_check(org: Organization, budget: Budget, spend: Decimal) -> None:
    """Record (once per threshold and period) every threshold the spend has crossed, and notify."""
    crossed = _thresholds_crossed(budget, spend)
    if not crossed:
        return
    period = rollups.month_key(current_period_start())
    done = set(BudgetAlert.objects.filter(organization=org, period=period).values_list("threshold", flat=True))
    if set(crossed) <= done:
        return
    org = Organization.objects.get(pk=org.pk)
    for threshold in (t for t in crossed if t not in done):
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    organization=org,
                    period=period,
                    threshold=threshold,
                    spend_usd=spend,
                    budget_usd=budget.monthly_budget_usd,
                )
        except IntegrityError:  # a concurrent writer recorded this alert first
            continue
        budget_alert_notify(alert=alert)


def budget_alert_context(alert: BudgetAlert) -> dict[str, Any]:
    percent = alert.spend_usd * 100 / alert.budget_usd
    return {
        "organization_id": str(alert.organization_id),
        "organization_name": alert.organization.name,
        "period": alert.period,
        "threshold_percent": alert.threshold,
        "spend_usd": money_str(alert.spend_usd),
        "budget_usd": money_str(alert.budget_usd),
        "percent_used": f"{percent.quantize(Decimal('0.1'))}",
    }


def _notifier() -> Callable[..., Any]:
    from billing.notifications import notification_send  # local: billing imports usage's models

    return notification_send


def budget_alert_notify(*, alert: BudgetAlert) -> str:
    """Hand an alert to billing's notifications and record the outcome; return the delivery status.

    billing.notifications records the notice in the caller's transaction and sends it after commit, so an
    alert whose event is rolled back is never sent, and one that commits is never lost.
    """
    status, error = DeliveryStatus.SENT, ""
    try:
        with transaction.atomic():
            context = budget_alert_context(alert)
            notices = _notifier()(organization=alert.organization, kind="budget_threshold", context=context)
        if not notices:
            status, error = DeliveryStatus.UNAVAILABLE, "no notification channel is configured"
    except Exception as exc:  # a notifier failure must not lose the usage being recorded
        status, error = DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        logger.exception("Budget alert %s could not be handed to the notifier", alert.pk)
    if status != DeliveryStatus.SENT:
        logger.warning("Budget alert %s (%s%%) not sent: %s", alert.pk, alert.threshold, error)
    BudgetAlert.objects.filter(pk=alert.pk).update(
        delivery_status=status, delivery_error=error, delivered_at=timezone.now() if status == "sent" else None
    )
    alert.delivery_status, alert.delivery_error = status, error
    return status


def budget_thresholds_clean(thresholds: Any) -> list[int]:
    """Return the thresholds sorted and unique, or raise UsageValidationError."""
    ok = (
        isinstance(thresholds, list | tuple)
        and 0 < len(thresholds) <= MAX_THRESHOLDS
        and all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= MAX_THRESHOLD for t in thresholds)
    )
    if not ok:
        raise UsageValidationError(
            {0: {"alert_thresholds": [f"1 to {MAX_THRESHOLDS} whole percentages between 1 and {MAX_THRESHOLD}."]}}
        )
    return sorted(set(thresholds))


@transaction.atomic
def budget_update(
    *,
    organization: Organization,
    monthly_budget_usd: Decimal | None,
    alert_thresholds: Sequence[int],
    hard_limit: bool,
    updated_by: User | None = None,
) -> Budget:
    """Set the organization's monthly budget; thresholds already crossed this period alert at once."""
    if monthly_budget_usd is not None and not (0 < monthly_budget_usd <= MAX_BUDGET):
        raise UsageValidationError({0: {"monthly_budget_usd": [f"Must be above 0 and at most {MAX_BUDGET}."]}})
    budget, _ = Budget.objects.update_or_create(
        organization=organization,
        defaults={
            "monthly_budget_usd": monthly_budget_usd,
            "alert_thresholds": budget_thresholds_clean(list(alert_thresholds)),
            "hard_limit": hard_limit,
            "updated_by": updated_by,
        },
    )
    _budget_alerts_check(organization, budget, period_spend(organization_id=organization.pk))
    return budget


# ---------------------------------------------------------------------------
# Periods and repair
# ---------------------------------------------------------------------------
def organization_periods_rollover() -> int:
    """Start the current period for every organization still in an older one; return how many moved.

    One conditional UPDATE: safe to run at any time and any number of times, concurrently with recording.
    """
    start = current_period_start()
    return Organization.objects.filter(period_start__lt=start).update(
        debates_used=0, period_start=start, updated_at=timezone.now()
    )


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
