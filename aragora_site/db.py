"""Small helpers for the hand-written SQL of the hot paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
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


@contextmanager
def driver_cursor() -> Iterator[Any]:
    """Yield the database driver's own cursor, for statements written in the driver's placeholder style.

    The hot paths use it to skip the per-statement work of Django's cursor wrapper (SQLite's rewrite of
    every `%s` into `?`, the execute wrappers). Errors still arrive as Django's database exceptions, and
    the statements run in the current transaction. Statements through it are not in `connection.queries`.
    """
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each attribute of the proxy costs a lookup
    conn.ensure_connection()
    with conn.wrap_database_errors:
        cursor = conn.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def driver_sql(sql: str) -> str:
    """Return SQL written with `%s` placeholders in the driver's own style (`?` for sqlite3)."""
    return sql.replace("%s", "?") if connection.vendor == "sqlite" else sql
