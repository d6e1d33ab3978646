"""The CSV export of usage events, streamed (formula-like cells neutralised for spreadsheets)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.http import StreamingHttpResponse

from accounts.models import Organization
from usage.selectors import events_in_range

CSV_COLUMNS = [
    "id",
    "created_at",
    "event_type",
    "user_id",
    "user_email",
    "provider",
    "model",
    "tokens_in",
    "tokens_out",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced",
    "idempotency_key",
    "metadata",
]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ (or a tab / CR) is run as a formula by spreadsheets: neutralise it.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def events_csv(*, organization: Organization, start: date, end: date) -> Iterator[str]:
    """Yield the organization's events from start to end as CSV lines, oldest first, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    events = (
        events_in_range(organization=organization, start=start, end=end)
        .select_related("user")
        .order_by("created_at", "id")
    )
    for event in events.iterator(chunk_size=2000):
        writer.writerow(
            [
                _cell(v)
                for v in (
                    event.id,
                    event.created_at.isoformat(),
                    event.event_type,
                    event.user_id or "",
                    event.user.email if event.user else "",
                    event.provider,
                    event.model,
                    event.tokens_in,
                    event.tokens_out,
                    event.cache_read_tokens,
                    event.cache_write_tokens,
                    event.reasoning_tokens,
                    f"{event.cost_usd:f}",
                    "true" if event.unpriced else "false",
                    event.idempotency_key or "",
                    json.dumps(event.metadata, sort_keys=True) if event.metadata else "",
                )
            ]
        )
        if buffer.tell() > 65536:
            yield flush()
    yield flush()


def csv_response(*, organization: Organization, start: date, end: date) -> StreamingHttpResponse:
    """Return the organization's events start..end as a streamed CSV download."""
    response = StreamingHttpResponse(
        events_csv(organization=organization, start=start, end=end), content_type="text/csv; charset=utf-8"
    )
    name = f"aragora-usage-{organization.slug}-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
