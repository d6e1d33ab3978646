"""The hand-written SQL of the ingest hot path: insert priced events, read members and the budget.

Compiling an ORM INSERT costs more than executing it, so recording writes through these few statements.
Columns come from the model's own fields: a new field is written without touching this module.
"""

from __future__ import annotations

import functools
import json
import operator
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, models
from django.db.models import signals
from django.db.models.base import ModelState

from accounts.models import User
from aragora_site.caches import process_cache
from aragora_site.db import db_uuid, db_vendor, driver_cursor, driver_sql, insert_fields, insert_sql
from usage.models import Budget, UsageEvent
from usage.money import MoneyField


@dataclass(slots=True)
class PricedEvent:
    """One valid, priced event, ready to insert: its attributes are UsageEvent's columns."""

    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    event_type: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    unpriced: bool
    price_id: int | None
    metadata: dict[str, Any]
    idempotency_key: str
    fingerprint: str
    created_at: datetime
    recorded_at: datetime

    def as_model(self) -> UsageEvent:
        """Return the event as a UsageEvent, as if loaded from the database.

        The instance is what `UsageEvent.from_db` builds, filled in one step rather than field by field through
        `Model.__init__` (that saved about 7 % of a warm `record_event`); `from_db` itself while anything listens
        for the model's init signals.
        """
        attnames, values_of = _event_columns()
        if signals.pre_init.has_listeners(UsageEvent) or signals.post_init.has_listeners(UsageEvent):
            return UsageEvent.from_db(DEFAULT_DB_ALIAS, None, list(values_of(self)))
        event = UsageEvent.__new__(UsageEvent)
        event._state = state = ModelState()
        state.adding, state.db = False, DEFAULT_DB_ALIAS
        event.__dict__.update(zip(attnames, values_of(self), strict=True))
        return event


@functools.cache
def _event_columns() -> tuple[tuple[str, ...], Callable[[Any], tuple]]:
    """UsageEvent's column attributes in the model's order, and a getter of them."""
    attnames = tuple(f.attname for f in UsageEvent._meta.concrete_fields)
    return attnames, operator.attrgetter(*attnames)


def _adapter(field: models.Field, vendor: str) -> Callable[[Any], Any] | None:
    """Return how to turn a value of `field` into a driver parameter (None: as it is)."""
    target = field.target_field if field.is_relation else field
    if isinstance(target, models.UUIDField):
        return None if connection.features.has_native_uuid_field else (lambda v: v.hex if v is not None else None)
    if isinstance(target, models.DateTimeField):
        if vendor == "sqlite" and connection.timezone is not None:
            return functools.partial(_sqlite_moment, connection.timezone)
        return connection.ops.adapt_datetimefield_value
    if isinstance(target, models.JSONField):
        empty = connection.ops.adapt_json_value({}, None)
        return lambda v: connection.ops.adapt_json_value(v, None) if v else empty
    if isinstance(target, MoneyField) and vendor == "sqlite":
        scale = Decimal(10) ** target.decimal_places  # costs are quantized already: the scaled value is whole
        return lambda v: int(v * scale)
    if isinstance(target, models.DecimalField):
        return lambda v: target.get_db_prep_value(v, connection)
    return None


def _sqlite_moment(zone: tzinfo, value: datetime | None) -> str | None:
    """Return a date-time as SQLite stores it, the text Django's adapt_datetimefield_value writes (naive, in the
    connection's time zone), without its per-call settings lookups."""
    if value is None:
        return None
    if value.utcoffset() is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return str(value)


@functools.lru_cache(maxsize=4)
def _insert_plan(vendor: str) -> tuple[str, Callable[[Any], tuple], tuple[tuple[int, Callable, bool], ...]]:
    """The INSERT of the events table, a getter of a row's values, and the values that need adapting."""
    fields = insert_fields(UsageEvent)
    sql = insert_sql(UsageEvent, 1)
    adapters = tuple(
        (index, adapt, isinstance(field, models.DateTimeField))
        for index, field in enumerate(fields)
        if (adapt := _adapter(field, vendor)) is not None
    )
    return sql, operator.attrgetter(*(f.attname for f in fields)), adapters


def events_params(rows: list[PricedEvent]) -> list[list]:
    """Return the INSERT parameters of each event (prepared before the write lock is taken)."""
    _, values_of, adapters = _insert_plan(db_vendor())
    moments: dict[datetime, Any] = {}  # a batch's events mostly share their times: adapt each one once
    params = []
    for row in rows:
        values = list(values_of(row))
        for index, adapt, is_moment in adapters:
            value = values[index]
            if is_moment:
                if value not in moments:
                    moments[value] = adapt(value)
                values[index] = moments[value]
            else:
                values[index] = adapt(value)
        params.append(values)
    return params


def events_insert(params: list[list]) -> None:
    """Insert events, given as events_params made them: SQLite's executemany runs in-process; PostgreSQL gets
    them through COPY, several times faster than a round trip (or a statement) per event."""
    if not params:
        return
    sql = _insert_plan(connection.vendor)[0]
    with driver_cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(driver_sql(sql), params)
            return
        head = sql.partition(" VALUES ")[0].replace("INSERT INTO", "COPY", 1)
        with cursor.copy(f"{head} FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)


INLINE_EVENTS = 100  # up to this many events, PostgreSQL takes them in the rollups' statement rather than by COPY


@functools.lru_cache(maxsize=INLINE_EVENTS + 4)
def _insert_sql(vendor: str, rows: int) -> str:
    return driver_sql(insert_sql(UsageEvent, rows))


def events_insert_statement(params: list[list]) -> tuple[str, list]:
    """Return the INSERT of these events (as events_params made them) and its parameters, for one statement on a
    driver cursor (see driver_cursor)."""
    return _insert_sql(db_vendor(), len(params)), [value for values in params for value in values]


def member_ids(organization_id: uuid.UUID, wanted: set[uuid.UUID]) -> set[uuid.UUID]:
    """Return which of `wanted` are users of the organization."""
    placeholders = ", ".join(["%s"] * len(wanted))
    sql = (
        f"SELECT id FROM {User._meta.db_table} "  # noqa: S608 - name from _meta
        f"WHERE organization_id = %s AND id IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_uuid(organization_id), *(db_uuid(w) for w in wanted)])
        return {uuid.UUID(str(row[0])) for row in cursor.fetchall()}


# Budgets change rarely and every ingest needs one: each worker keeps them this long. A change made through this
# process (usage.services.budgets.budget_update) is seen at once; other workers see it within these seconds.
BUDGET_SECONDS = 2.0
_budgets: dict[uuid.UUID, tuple[Budget | None, float]] = {}


@process_cache("budgets read by ingest")
def forget_budgets() -> None:
    _budgets.clear()


def budget_get(organization_id: uuid.UUID) -> Budget | None:
    """Return the organization's budget as of at most BUDGET_SECONDS ago, or None."""
    now = time.monotonic()
    seen = _budgets.get(organization_id)
    if seen is not None and now - seen[1] < BUDGET_SECONDS:
        return seen[0]
    budget = _budget_read(organization_id)
    if len(_budgets) > 10_000:
        _budgets.clear()
    _budgets[organization_id] = (budget, now)
    return budget


def _budget_read(organization_id: uuid.UUID) -> Budget | None:
    """Return the organization's budget (unsaved copy, enough to check limits and alerts), or None."""
    sql = (
        f"SELECT monthly_budget_usd, alert_thresholds, hard_limit FROM {Budget._meta.db_table} "  # noqa: S608
        "WHERE organization_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_uuid(organization_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    amount, thresholds, hard_limit = row
    return Budget(
        organization_id=organization_id,
        monthly_budget_usd=None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
        alert_thresholds=json.loads(thresholds) if isinstance(thresholds, str) else thresholds,
        hard_limit=bool(hard_limit),
    )
