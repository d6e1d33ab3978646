"""The hand-written SQL of the ingest hot path: insert priced events, read members and the budget.

Compiling an ORM INSERT costs more than executing it, so recording writes through these few statements.
Columns come from the model's own fields: a new field is written without touching this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models

from accounts.models import User
from aragora_site.db import db_uuid
from usage.models import Budget, UsageEvent


@dataclass(slots=True)
class PricedEvent:
    """One valid, priced event, ready to insert: its attributes are UsageEvent's columns."""

    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
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
        """Return the event as a UsageEvent, as if loaded from the database."""
        fields = UsageEvent._meta.concrete_fields
        return UsageEvent.from_db(connection.alias, None, [getattr(self, f.attname) for f in fields])


def _adapter(field: models.Field, conn: Any) -> Callable[[Any], Any] | None:
    """Return how to turn a value of `field` into a driver parameter (None: as it is)."""
    target = field.target_field if field.is_relation else field
    if isinstance(target, models.UUIDField):
        return None if conn.features.has_native_uuid_field else db_uuid
    if isinstance(target, models.DateTimeField):
        return conn.ops.adapt_datetimefield_value
    if isinstance(target, models.JSONField):
        empty = conn.ops.adapt_json_value({}, None)
        return lambda v: conn.ops.adapt_json_value(v, None) if v else empty
    if isinstance(target, models.DecimalField):
        return lambda v: target.get_db_prep_value(v, conn)
    return None


def events_insert(rows: list[PricedEvent]) -> None:
    """Insert the events with one executemany."""
    if not rows:
        return
    fields = UsageEvent._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {UsageEvent._meta.db_table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - from _meta
    getters = [(f.attname, _adapter(f, connection)) for f in fields]
    params = [[adapt(getattr(r, name)) if adapt else getattr(r, name) for name, adapt in getters] for r in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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


def budget_get(organization_id: uuid.UUID) -> Budget | None:
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
