"""Usage events as the HTTP API receives them: JSON types turned into EventInput, nothing more.

Only what JSON itself cannot say is checked here (unknown keys, nulls, date-time text); every rule of an event
is the service's (`usage.validation`), run once when the events are recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from aragora_site.fields import CREDENTIAL_FIELDS, DATETIME_HINT, RFC3339_DATETIME
from usage.validation import EventInput

FIELDS = frozenset(EventInput.__dataclass_fields__)
NULLABLE = frozenset({"user_id", "idempotency_key", "occurred_at"})

Errors = dict[str, list[str]]


def _occurred_at(value: Any) -> datetime | None:
    """Parse an ISO 8601 date-time that names its time zone; None when it is not one."""
    if not isinstance(value, str) or not RFC3339_DATETIME.fullmatch(value):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def event_from_json(data: Any) -> tuple[EventInput | None, Errors]:
    """Return the event a JSON object describes, or the problems of its shape."""
    if not isinstance(data, dict):
        return None, {"non_field_errors": ["Must be a JSON object: an event."]}
    errors: Errors = {}
    for name in data.keys() - FIELDS:
        errors[name] = [
            "The organization comes from the credentials." if name in CREDENTIAL_FIELDS else "Unknown field."
        ]
    if "event_type" not in data:
        errors["event_type"] = ["This field is required."]
    for name, value in data.items():
        if value is None and name in FIELDS and name not in NULLABLE:
            errors[name] = ["May not be null."]
    fields = {name: value for name, value in data.items() if name in FIELDS}
    if fields.get("occurred_at") is not None:
        fields["occurred_at"] = _occurred_at(fields["occurred_at"])
        if fields["occurred_at"] is None:
            errors["occurred_at"] = [DATETIME_HINT]
    if errors:
        return None, errors
    return EventInput(**fields), {}


def events_from_json(body: Any) -> tuple[list[EventInput], bool, dict[str, Any]]:
    """Return (events, whether the body was a batch, errors): one event, or {"events": [...]}."""
    if not isinstance(body, dict):
        return [], False, {"non_field_errors": ['Send a JSON object: one event, or {"events": [...]}.']}
    if "events" not in body:
        event, errors = event_from_json(body)
        return ([event] if event else []), False, errors
    extra = sorted(body.keys() - {"events"})
    if extra:
        return [], True, {name: ["Unknown field."] for name in extra}
    items = body["events"]
    limit = settings.USAGE_MAX_BATCH_EVENTS
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        return [], True, {"events": [f"Send a list of 1 to {limit} events."]}
    events, problems = [], {}
    for index, item in enumerate(items):
        event, errors = event_from_json(item)
        if errors:
            problems[str(index)] = errors
        events.append(event)
    return events, True, ({"events": problems} if problems else {})
