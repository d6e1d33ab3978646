"""Small helpers for the hand-written SQL of the hot paths."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection


def db_uuid(value: uuid.UUID | str | None) -> Any:
    """Return a UUID as the database driver takes it: native on PostgreSQL, 32 hex digits on SQLite."""
    if value is None:
        return None
    if not isinstance(value, uuid.UUID):
        value = uuid.UUID(str(value))
    return value if connection.features.has_native_uuid_field else value.hex
