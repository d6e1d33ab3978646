"""Rollup maintenance: atomic upserts in the writer's transaction, and a rebuild from raw events for repair."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Count, F, Sum, Value
from django.db.models.functions import TruncDate, TruncMonth

from aragora_site.db import db_vendor, driver_cursor, driver_sql
from usage.models import (
    RollupCounters,
    UsageDaily,
    UsageDailyModel,
    UsageDailyUser,
    UsageEvent,
    UsageEventType,
    UsageMonthly,
    UsageMonthlyApiKey,
)
from usage.periods import day_range_bounds, month_bounds, month_key, utc_day

COUNTERS = RollupCounters.COUNTERS
# Rollup model -> the fields that key one of its rows (besides the organization).
ROLLUPS: dict[type[RollupCounters], tuple[str, ...]] = {
    UsageMonthly: ("month",),
    UsageDaily: ("day",),
    UsageDailyModel: ("day", "provider", "model"),
    UsageDailyUser: ("day", "user_key"),
    UsageMonthlyApiKey: ("month", "key_id"),
}
_COST = UsageMonthly._meta.get_field("total_cost")
_CHUNK = 400  # rows per INSERT: far below SQLite's bound-parameter limit


def _new_counters() -> list:
    return [0, 0, 0, 0, 0, 0, 0, 0, 0, Decimal(0)]


def _add(
    counters: list,
    *,
    event_type: str,
    tokens_in: int,
    tokens_out: int,
    cost: Decimal,
    parts: tuple[int, int, int] = (0, 0, 0),
    events: int = 1,
) -> None:
    """Add events to counters laid out as COUNTERS; `parts` are the cache-read, cache-write and reasoning tokens."""
    counters[0] += events
    counters[1] += events if event_type == UsageEventType.DEBATE else 0
    counters[2] += events if event_type == UsageEventType.API_CALL else 0
    counters[3] += tokens_in
    counters[4] += tokens_out
    counters[5] += tokens_in + tokens_out
    counters[6] += parts[0]
    counters[7] += parts[1]
    counters[8] += parts[2]
    counters[9] += cost


def _keys(day: date, provider: str, model: str, user_key: str, key_id: str) -> dict[type[RollupCounters], tuple]:
    keys: dict[type[RollupCounters], tuple] = {
        UsageMonthly: (month_key(day),),
        UsageDaily: (day,),
        UsageDailyModel: (day, provider.lower(), model.lower()),
        UsageDailyUser: (day, user_key),
    }
    if key_id:  # only events sent with an API key count per key
        keys[UsageMonthlyApiKey] = (month_key(day), key_id)
    return keys


def _id_key(value: uuid.UUID | str | None) -> str:
    return str(value) if value else ""


class Countable(Protocol):
    """What an event adds to the rollups (a stored UsageEvent or a PricedEvent about to be)."""

    created_at: datetime
    provider: str
    model: str
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    event_type: str
    tokens_in: int
    tokens_out: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal


def _add_event(counters: list, item: Countable) -> None:
    """Add one event's amounts to counters laid out as COUNTERS."""
    _add(
        counters,
        event_type=item.event_type,
        tokens_in=item.tokens_in,
        tokens_out=item.tokens_out,
        cost=item.cost_usd,
        parts=(item.cache_read_tokens, item.cache_write_tokens, item.reasoning_tokens),
    )


def group_events(items: Iterable[Countable]) -> dict[type[RollupCounters], dict[tuple, list]]:
    """Return every rollup row that `items` add to, with the amounts to add."""
    finest: dict[tuple, list] = defaultdict(_new_counters)
    for item in items:
        key = (
            utc_day(item.created_at),
            item.provider.lower(),
            item.model.lower(),
            _id_key(item.user_id),
            _id_key(item.api_key_id),
        )
        _add_event(finest[key], item)
    grouped: dict[type[RollupCounters], dict[tuple, list]] = {model: defaultdict(_new_counters) for model in ROLLUPS}
    for finest_key, counters in finest.items():
        for model, key in _keys(*finest_key).items():
            row = grouped[model][key]
            for i, value in enumerate(counters):
                row[i] += value
    return grouped


@functools.lru_cache(maxsize=256)
def _upsert_sql_for(vendor: str, model: type[RollupCounters], rows: int, returning: bool) -> str:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    keys = [model._meta.get_field(name).column for name in ("organization", *ROLLUPS[model])]
    columns = ", ".join(qn(c) for c in [*keys, *COUNTERS])
    row = "(" + ", ".join(["%s"] * (len(keys) + len(COUNTERS))) + ")"
    updates = ", ".join(f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in COUNTERS)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608 - names from _meta
        f"ON CONFLICT ({', '.join(qn(k) for k in keys)}) DO UPDATE SET {updates}"
    )
    if returning:
        sql += f" RETURNING {', '.join(qn(model._meta.get_field(k).column) for k in ROLLUPS[model])}, total_cost"
    return driver_sql(sql)


@functools.lru_cache(maxsize=16)
def _add_sql_for(model: type[RollupCounters], returning: bool) -> str:
    """The UPDATE that adds one event's counters to an existing rollup row, found by its unique key (SQLite)."""
    qn = connection.ops.quote_name
    keys = [model._meta.get_field(name).column for name in ("organization", *ROLLUPS[model])]
    sql = (
        f"UPDATE {qn(model._meta.db_table)} SET {', '.join(f'{qn(c)} = {qn(c)} + %s' for c in COUNTERS)} "  # noqa: S608
        f"WHERE {' AND '.join(f'{qn(k)} = %s' for k in keys)}"
    )
    if returning:
        sql += f" RETURNING {', '.join(qn(model._meta.get_field(k).column) for k in ROLLUPS[model])}, total_cost"
    return driver_sql(sql)


def _adapt(value: Any, conn: Any) -> Any:
    """Return a key or counter value as the database driver takes it (the hot path skips field machinery)."""
    if isinstance(value, int | str):
        return value
    if isinstance(value, uuid.UUID):
        return value if conn.features.has_native_uuid_field else value.hex
    if isinstance(value, Decimal):
        return _COST.get_db_prep_value(value, conn)
    if isinstance(value, date):
        return conn.ops.adapt_datefield_value(value)
    raise TypeError(f"cannot store {value!r} in a rollup")


def _params(organization: Any, key: tuple, counters: list, conn: Any) -> list:
    """Return one row's parameters: the organization (already adapted), its key, its counters."""
    return [
        organization,
        *(value if isinstance(value, str) else _adapt(value, conn) for value in key),
        *(value if type(value) is int else _adapt(value, conn) for value in counters),
    ]


def upsert(
    model: type[RollupCounters], organization_id: uuid.UUID, rows: dict[tuple, list], cursor: Any = None
) -> dict[tuple, Decimal]:
    """Add `rows` to the model's rollup rows in place (INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x).

    Returns the new total cost of each row touched. `cursor`: a driver cursor to run on (see driver_cursor).
    """
    if cursor is None:
        with driver_cursor() as cursor:
            return upsert(model, organization_id, rows, cursor)
    conn = connections[DEFAULT_DB_ALIAS]  # resolved once: every value below is adapted for it
    items = list(rows.items())
    totals: dict[tuple, Decimal] = {}
    organization = _adapt(organization_id, conn)
    returning = model is UsageMonthly
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        params = [p for key, counters in chunk for p in _params(organization, key, counters, conn)]
        cursor.execute(_upsert_sql_for(conn.vendor, model, len(chunk), returning), params)
        if returning:
            for *key, cost in cursor.fetchall():
                totals[tuple(key)] = _COST.from_db_value(cost, None, conn)
    return totals


def rollups_apply(
    *,
    organization_id: uuid.UUID,
    items: list[Countable],
    insert: tuple[str, list] | None = None,
    month_totals: bool = True,
) -> dict[str, Decimal]:
    """Add freshly inserted events to every rollup; return each touched month's new total cost (with
    `month_totals=False`, when the caller has no use for them, the single-event path does not read them back).

    On PostgreSQL, the upserts of a batch that fits in one chunk per rollup go to the server as one statement
    of data-modifying CTEs, with `insert` (the events' own INSERT and its parameters, when given) in it too:
    one round trip for the whole write. Elsewhere `insert` runs first, then one upsert per rollup; a single event
    (`record_event`'s path) skips the grouping and adapts its counters once for all of its rows.
    """
    if len(items) == 1 and db_vendor() != "postgresql":
        return _apply_one(organization_id, items[0], insert, month_totals)
    grouped = {model: rows for model, rows in group_events(items).items() if rows}
    if not grouped:
        return {}
    with driver_cursor() as cursor:
        if connection.vendor == "postgresql" and all(len(rows) <= _CHUNK for rows in grouped.values()):
            return _apply_in_one_statement(cursor, organization_id, grouped, insert)
        if insert is not None:
            cursor.execute(*insert)
        months: dict[str, Decimal] = {}
        for model, rows in grouped.items():
            totals = upsert(model, organization_id, rows, cursor)
            months.update({key[0]: cost for key, cost in totals.items()})
    return months


def _apply_one(
    organization_id: uuid.UUID, item: Countable, insert: tuple[str, list] | None, month_totals: bool
) -> dict[str, Decimal]:
    """One event (SQLite's single-event path): its counters adapted once, the same for each of its rollup rows."""
    conn = connections[DEFAULT_DB_ALIAS]
    counters = _new_counters()
    _add_event(counters, item)
    adapted = [value if type(value) is int else _adapt(value, conn) for value in counters]
    day = utc_day(item.created_at)
    keys = _keys(day, item.provider, item.model, _id_key(item.user_id), _id_key(item.api_key_id))
    organization, stored_day = _adapt(organization_id, conn), _adapt(day, conn)
    months: dict[str, Decimal] = {}
    with driver_cursor(conn) as cursor:
        if insert is not None:
            cursor.execute(*insert)
        for model, key in keys.items():
            key_params = [stored_day if isinstance(value, date) else value for value in key]
            returning = month_totals and model is UsageMonthly
            # Most events add to a row that exists: an UPDATE by the unique key costs SQLite about half of an
            # upsert that first tries the INSERT. The write lock is held from BEGIN, so nobody can insert the
            # row between the UPDATE that finds none and the upsert that follows.
            cursor.execute(_add_sql_for(model, returning), [*adapted, organization, *key_params])
            found = cursor.fetchone() if returning else cursor.rowcount
            if not found:
                cursor.execute(_upsert_sql_for(conn.vendor, model, 1, returning), [organization, *key_params, *adapted])
                found = cursor.fetchone() if returning else None
            if returning:
                month, cost = found
                months[month] = _COST.from_db_value(cost, None, conn)
    return months


def _apply_in_one_statement(
    cursor: Any, organization_id: uuid.UUID, grouped: dict[type[RollupCounters], dict], insert: tuple[str, list] | None
) -> dict[str, Decimal]:
    conn = connections[DEFAULT_DB_ALIAS]
    organization = _adapt(organization_id, conn)
    parts, params = [], []
    if insert is not None:
        parts.append(f"e AS ({insert[0]})")
        params += insert[1]
    for i, (model, rows) in enumerate(grouped.items()):
        parts.append(f"r{i} AS ({_upsert_sql_for(conn.vendor, model, len(rows), model is UsageMonthly)})")
        params += [p for key, counters in rows.items() for p in _params(organization, key, counters, conn)]
    monthly = list(grouped).index(UsageMonthly)
    cursor.execute(f"WITH {', '.join(parts)} SELECT * FROM r{monthly}", params)  # noqa: S608 - names from _meta
    return {month: _COST.from_db_value(cost, None, conn) for month, cost in cursor.fetchall()}


# ---------------------------------------------------------------------------
# Rebuild from raw events (repair)
# ---------------------------------------------------------------------------
def months_to_rebuild(*, organization_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
    """Return every (organization, month) that has events or rollups, oldest first."""
    scope = {} if organization_id is None else {"organization_id": organization_id}
    pairs = set(UsageMonthly.objects.filter(**scope).values_list("organization_id", "month"))
    sources = (
        UsageEvent.objects.filter(**scope).annotate(m=TruncMonth("created_at", tzinfo=UTC)),
        UsageDaily.objects.filter(**scope).annotate(m=TruncMonth("day")),
    )
    for queryset in sources:
        for org_id, month in queryset.values_list("organization_id", "m").distinct().order_by():
            pairs.add((org_id, month_key(month)))
    return sorted(pairs, key=lambda pair: (pair[1], str(pair[0])))


def _lock_events_for_rebuild() -> None:
    # SQLite's IMMEDIATE transactions already exclude writers; PostgreSQL needs the lock spelled out.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {UsageEvent._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


@transaction.atomic
def rollups_rebuild_month(*, organization_id: uuid.UUID, month: str) -> int:
    """Recompute one organization's rollups for one month from its raw events; return the event count."""
    _lock_events_for_rebuild()
    first, last = month_bounds(month)
    for model in (UsageMonthly, UsageMonthlyApiKey):
        model.objects.filter(organization_id=organization_id, month=month).delete()
    for model in (UsageDaily, UsageDailyModel, UsageDailyUser):
        model.objects.filter(organization_id=organization_id, day__gte=first, day__lte=last).delete()
    start, end = day_range_bounds(first, last)
    groups = (
        UsageEvent.objects.filter(organization_id=organization_id, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "provider", "model", "user_id", "api_key_id", "event_type")
        .annotate(
            n=Count("id"),
            t_in=Sum("tokens_in"),
            t_out=Sum("tokens_out"),
            cache_read=Sum("cache_read_tokens"),
            cache_write=Sum("cache_write_tokens"),
            reasoning=Sum("reasoning_tokens"),
            cost=Sum("cost_usd"),
        )
        .order_by()
    )
    grouped: dict[type[RollupCounters], dict[tuple, list]] = {model: defaultdict(_new_counters) for model in ROLLUPS}
    total = 0
    for g in groups:
        keys = _keys(g["day"], g["provider"], g["model"], _id_key(g["user_id"]), _id_key(g["api_key_id"]))
        for model, key in keys.items():
            _add(
                grouped[model][key],
                event_type=g["event_type"],
                tokens_in=g["t_in"],
                tokens_out=g["t_out"],
                cost=g["cost"],
                parts=(g["cache_read"], g["cache_write"], g["reasoning"]),
                events=g["n"],
            )
        total += g["n"]
    for model, rows in grouped.items():
        upsert(model, organization_id, rows)
    return total


def rollups_adjust_cost(*, organization_id: uuid.UUID, items: Iterable[tuple[Countable, Decimal]]) -> None:
    """Add each (event, cost delta) to the total cost of every rollup row the event counts in (deltas may be < 0).

    An UPDATE, not the ingest upsert: the rows exist already, and a negative amount could never be inserted.
    """
    deltas: dict[type[RollupCounters], dict[tuple, Decimal]] = {model: defaultdict(Decimal) for model in ROLLUPS}
    for item, delta in items:
        keys = _keys(
            utc_day(item.created_at), item.provider, item.model, _id_key(item.user_id), _id_key(item.api_key_id)
        )
        for model, key in keys.items():
            deltas[model][key] += delta
    for model, rows in deltas.items():
        for key, delta in rows.items():
            if delta:
                match = dict(zip(ROLLUPS[model], key, strict=True))
                model.objects.filter(organization_id=organization_id, **match).update(
                    total_cost=F("total_cost") + Value(delta, output_field=_COST)
                )
