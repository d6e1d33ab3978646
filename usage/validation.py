"""The rules an event, a budget and its alert thresholds must follow. Pure checks: no database.

The HTTP API and the Python API both validate through here, so each limit is written once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from aragora_site.errors import ServiceError
from usage.models import MAX_COUNT, UsageEventType
from usage.provider_usage import TokenCounts, UsageShapeError, part_errors, token_counts

PROVIDER_MAX_LENGTH = 64
MODEL_MAX_LENGTH = 128
IDEMPOTENCY_KEY_MAX_LENGTH = 255
FUTURE_SKEW = timedelta(minutes=5)
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
MIN_BUDGET = Decimal("0.01")
MAX_BUDGET = Decimal("1000000000")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")  # either of the two: one search for text that has neither
_EVENT_TYPES = frozenset(UsageEventType.values)
PART_FIELDS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
COUNT_FIELDS = ("tokens_in", "tokens_out", *PART_FIELDS)


class UsageValidationError(ServiceError):
    """Some input is invalid; `errors` maps each bad item's index to {field: [messages]}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__("The usage is invalid.", code="invalid", status=400)
        self.errors = errors


@dataclass(slots=True)
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
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    usage: dict[str, Any] | None = None  # a provider's usage block, instead of the counts

    def fingerprint(self) -> str:
        """Return a SHA-256 of everything the client sent except the key itself (same body -> same print)."""
        body: dict[str, Any] = {
            "event_type": str(self.event_type),
            "provider": self.provider,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "user_id": str(self.user_id) if self.user_id else None,
            "metadata": self.metadata or {},
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }
        # Only non-zero parts join the body, so events recorded before they existed keep their prints.
        body.update({name: getattr(self, name) for name in PART_FIELDS if getattr(self, name)})
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def sends_counts(self) -> bool:
        """Whether any token count was sent (as opposed to a provider usage block alone)."""
        return (
            self.tokens_in != 0
            or self.tokens_out != 0
            or self.cache_read_tokens != 0
            or self.cache_write_tokens != 0
            or self.reasoning_tokens != 0
        )

    def counts(self) -> TokenCounts:
        return TokenCounts(
            self.tokens_in, self.tokens_out, self.cache_read_tokens, self.cache_write_tokens, self.reasoning_tokens
        )

    def occurred_at_utc(self) -> datetime | None:
        """Return `occurred_at` as an aware datetime (a naive one is taken as UTC)."""
        moment = self.occurred_at
        if moment is not None and timezone.is_naive(moment):
            return moment.replace(tzinfo=UTC)
        return moment


@functools.lru_cache(maxsize=4096)
def uuid_from_text(text: str) -> uuid.UUID:
    """Return the UUID a text spells, or raise ValueError (remembered: a worker sees the same users' ids over and
    over)."""
    return uuid.UUID(text)


def _is_count(value: Any) -> bool:
    if type(value) is int:  # the common case first: a plain int (a bool is not one)
        return 0 <= value <= MAX_COUNT
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _text_errors(value: Any, *, max_length: int, allow_blank: bool = True) -> list[str]:
    if not isinstance(value, str):
        return ["Must be a string."]
    if not allow_blank and not value.strip():
        return ["May not be blank."]
    if len(value) > max_length:
        return [f"At most {max_length} characters."]
    if not _UNSAFE.search(value):
        return []
    if _CONTROL.search(value):
        return ["May not contain control characters."]
    return ["May not contain lone UTF-16 surrogates."]


def _json_strings(value: Any) -> Iterator[str]:
    """Yield every key and string value inside a JSON document (iteratively: any depth)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            yield from (str(key) for key in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _metadata_errors(value: Any) -> list[str]:
    if not value:
        return [] if value is None or isinstance(value, dict) else ["Must be a JSON object."]
    if not isinstance(value, dict):
        return ["Must be a JSON object."]
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ["Must be plain JSON (no NaN, Infinity, non-JSON values or very deep nesting)."]
    # PostgreSQL's jsonb cannot hold NUL characters or lone surrogates: refuse them on every database. The text
    # shows surrogates as they are and NUL as an escape, so the walk through every string is rarely needed.
    if _SURROGATE.search(text) or ("\\u0000" in text and any("\x00" in item for item in _json_strings(value))):
        return ["May not contain NUL characters or lone UTF-16 surrogates."]
    limit = settings.USAGE_MAX_METADATA_BYTES
    return [f"At most {limit} bytes of JSON."] if len(text.encode()) > limit else []


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


def _count_errors(event: EventInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in COUNT_FIELDS:
        value = getattr(event, name)
        if not _is_count(value):
            bad_float = isinstance(value, float) and not math.isfinite(value)
            errors[name] = ["Must be finite." if bad_float else f"Must be a whole number from 0 to {MAX_COUNT}."]
    return errors or part_errors(event.counts())


def _usage_errors(event: EventInput) -> dict[str, list[str]]:
    """Return the problems of the token counts, or of the provider usage block sent instead of them."""
    if event.usage is None:
        return _count_errors(event)
    if event.sends_counts():
        return {"usage": ["Send either a provider usage block or token counts, not both."]}
    try:
        token_counts(event.usage)
    except UsageShapeError as exc:
        return {"usage": [str(exc)]}
    return {}


def events_resolved(events: list[EventInput]) -> list[EventInput]:
    """Return the events with each readable provider usage block turned into token counts.

    An event whose block cannot be read, or that sends counts beside it, stays as it came: `batch_errors`
    reports why. So each block is read once, whether the batch is valid or not.
    """
    resolved = []
    for event in events:
        if event.usage is not None and not event.sends_counts():
            try:
                counts = token_counts(event.usage)
            except UsageShapeError:
                pass
            else:
                # built field by field: dataclasses.replace costs more than the conversion itself
                event = EventInput(
                    event_type=event.event_type,
                    provider=event.provider,
                    model=event.model,
                    tokens_in=counts.tokens_in,
                    tokens_out=counts.tokens_out,
                    user_id=event.user_id,
                    metadata=event.metadata,
                    idempotency_key=event.idempotency_key,
                    occurred_at=event.occurred_at,
                    cache_read_tokens=counts.cache_read_tokens,
                    cache_write_tokens=counts.cache_write_tokens,
                    reasoning_tokens=counts.reasoning_tokens,
                )
        resolved.append(event)
    return resolved


def event_errors(event: EventInput, now: datetime) -> dict[str, list[str]]:
    """Return {field: [messages]} for everything wrong with one event (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if str(event.event_type) not in _EVENT_TYPES:
        errors["event_type"] = [f"Must be one of: {', '.join(UsageEventType.values)}."]
    for name, limit in (("provider", PROVIDER_MAX_LENGTH), ("model", MODEL_MAX_LENGTH)):
        if problems := _text_errors(getattr(event, name), max_length=limit):
            errors[name] = problems
    errors.update(_usage_errors(event))
    if event.user_id is not None and not isinstance(event.user_id, uuid.UUID):
        try:
            uuid_from_text(str(event.user_id))
        except ValueError:
            errors["user_id"] = ["Must be a UUID."]
    if problems := _metadata_errors(event.metadata):
        errors["metadata"] = problems
    if event.idempotency_key is not None and (
        problems := _text_errors(event.idempotency_key, max_length=IDEMPOTENCY_KEY_MAX_LENGTH, allow_blank=False)
    ):
        errors["idempotency_key"] = problems
    if problems := _occurred_at_errors(event.occurred_at, now):
        errors["occurred_at"] = problems
    return errors


def batch_errors(events: list[EventInput], now: datetime) -> dict[int, dict[str, list[str]]]:
    """Return the problems of a batch: its size, then each event's, by index."""
    if not events:
        return {0: {"events": ["Send at least one event."]}}
    if len(events) > settings.USAGE_MAX_BATCH_EVENTS:
        return {0: {"events": [f"At most {settings.USAGE_MAX_BATCH_EVENTS} events per batch."]}}
    return {i: problems for i, e in enumerate(events) if (problems := event_errors(e, now))}


THRESHOLDS_MESSAGE = f"1 to {MAX_THRESHOLDS} whole percentages between 1 and {MAX_THRESHOLD}."


def budget_thresholds_clean(thresholds: Any) -> list[int]:
    """Return the thresholds sorted and unique, or raise UsageValidationError."""
    ok = (
        isinstance(thresholds, list | tuple)
        and 0 < len(thresholds) <= MAX_THRESHOLDS
        and all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= MAX_THRESHOLD for t in thresholds)
    )
    if not ok:
        raise UsageValidationError({0: {"alert_thresholds": [THRESHOLDS_MESSAGE]}})
    return sorted(set(thresholds))


def budget_amount_clean(amount: Decimal | None) -> Decimal | None:
    """Return the monthly budget (None: no budget), or raise UsageValidationError."""
    if amount is not None and not (MIN_BUDGET <= amount <= MAX_BUDGET):
        raise UsageValidationError({0: {"monthly_budget_usd": [f"Must be from {MIN_BUDGET} to {MAX_BUDGET}."]}})
    return amount
