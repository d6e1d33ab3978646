"""Small helpers for the hand-written SQL of the hot paths."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def db_uuid(value: uuid.UUID | str | None) -> Any:
    """Return a UUID as the database driver takes it: native on PostgreSQL, 32 hex digits on SQLite."""
    if value is None:
        return None
    if not isinstance(value, uuid.UUID):
        value = uuid.UUID(str(value))
    return value if connection.features.has_native_uuid_field else value.hex


def db_datetime(value: Any) -> datetime | None:
    """Return a date-time read by a raw cursor as an aware UTC datetime (SQLite hands back naive ones or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value
