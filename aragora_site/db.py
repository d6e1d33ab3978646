"""Small helpers for the hand-written SQL of the hot paths."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime


@functools.cache
def db_vendor() -> str:
    """Return the default database's vendor ("sqlite", "postgresql"), fixed for the life of the process.

    The hot paths ask on every event: `connection.vendor` goes through the connection proxy and a context-local
    lookup each time.
    """
    return connections[DEFAULT_DB_ALIAS].vendor


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
def driver_cursor(conn: BaseDatabaseWrapper | None = None) -> Iterator[Any]:
    """Yield the database driver's own cursor, for statements written in the driver's placeholder style.

    The hot paths use it to skip the per-statement work of Django's cursor wrapper (SQLite's rewrite of
    every `%s` into `?`, the execute wrappers). Errors still arrive as Django's database exceptions, and
    the statements run in the current transaction. Statements through it are not in `connection.queries`.
    `conn`: the default database's wrapper when the caller has it at hand already.
    """
    if conn is None:
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


# ---------------------------------------------------------------------------
# Rows written as the ORM writes them, by statements built once per shape
# ---------------------------------------------------------------------------
def _auto_time(f: models.Field) -> bool:
    return getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)


def insert_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT of `model` sets, in insert_sql's order: every concrete field but a database-generated
    primary key."""
    return tuple(f for f in model._meta.concrete_fields if not (f.primary_key and f.db_returning))


def insert_sql(
    model: type[models.Model], rows: int, *, conflict: str = "", update: tuple[str, ...] = (), returning: str = ""
) -> str:
    """Return the INSERT of `rows` rows of `model` (see insert_statement), with `%s` placeholders."""
    return _insert_sql(connection.vendor, model, rows, conflict, update, returning)


@functools.lru_cache(maxsize=256)
def _insert_sql(
    vendor: str, model: type[models.Model], rows: int, conflict: str, update: tuple[str, ...], returning: str
) -> str:
    quote = connection.ops.quote_name
    fields = insert_fields(model)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
    sql += "VALUES " + ", ".join([row] * rows)
    if conflict:
        target = quote(model._meta.get_field(conflict).column)
        if update:
            columns = [quote(model._meta.get_field(name).column) for name in update]
            sql += f" ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(model._meta.get_field(returning).column)}"
    return sql


Statement = tuple[str, list[Any]]


def insert_statement(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    conflict: str = "",
    update: Sequence[str] = (),
    returning: str = "",
) -> Statement:
    """Return the INSERT of `rows` of `model` as one statement, for `statements_run`.

    Each row names its values by field attname (`customer_id`); a field it leaves out gets its default, and an
    `auto_now`/`auto_now_add` field it leaves out the current time, as `Model.save()` and `bulk_create` give them.
    Values are adapted by each field's own `get_db_prep_save`, so the stored row is the one the ORM would store;
    only the SQL is built once per shape instead of on every call. `conflict` names a unique field: on a clash the
    row's `update` fields are overwritten (none given: the row is skipped). `returning` names a column to return.
    No rows: an empty statement, which `statements_run` skips.
    """
    if not rows:
        return "", []
    fields = insert_fields(model)
    now = timezone.now()
    params: list[Any] = []
    for row in rows:
        unknown = row.keys() - {f.attname for f in fields}
        if unknown:
            raise TypeError(f"{model.__name__} has no field(s) {sorted(unknown)}")
        for f in fields:
            if _auto_time(f):
                value = row.get(f.attname) or now
            else:
                value = row[f.attname] if f.attname in row else f.get_default()
            params.append(f.get_db_prep_save(value, connection))
    return _insert_sql(connection.vendor, model, len(rows), conflict, tuple(update), returning), params


def update_statement(model: type[models.Model], values: dict[str, Any], *, where: str, equals: Any) -> Statement:
    """Return the UPDATE that sets `values` (by field attname) on the rows of `model` whose `where` field equals
    `equals`, for `statements_run`."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in values]
    key = model._meta.get_field(where)
    sql = f"UPDATE {quote(model._meta.db_table)} SET "  # noqa: S608 - names from _meta
    sql += ", ".join(f"{quote(f.column)} = %s" for f in fields) + f" WHERE {quote(key.column)} = %s"
    params = [f.get_db_prep_save(values[f.attname], connection) for f in fields]
    return sql, [*params, key.get_db_prep_save(equals, connection)]


def statements_run(*statements: Statement) -> list[tuple]:
    """Run writes in order in the current transaction; return the rows the last one returns.

    On PostgreSQL several writes travel as one statement, each but the last a data-modifying WITH query: one
    round trip instead of one each. They then share one snapshot, so none may depend on another's effect (foreign
    keys are checked at commit), and a unique clash in any of them fails the whole statement.
    """
    statements = tuple(statement for statement in statements if statement[0])
    if connection.vendor == "postgresql" and len(statements) > 1:
        *first, last = statements
        head = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(first))
        statements = ((f"WITH {head} {last[0]}", [p for _, params in statements for p in params]),)
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def instance_row(obj: models.Model) -> dict[str, Any]:
    """Return a new model instance's values for insert_statement, setting its auto_now times as `save()` does."""
    now = timezone.now()
    row = {}
    for f in insert_fields(type(obj)):
        if _auto_time(f):
            setattr(obj, f.attname, now)
        row[f.attname] = getattr(obj, f.attname)
    return row
