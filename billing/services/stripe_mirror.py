"""dj-stripe's copy of Stripe objects, written from webhook events: the event row, the event's object, the owner,
the delivery record.

dj-stripe resolves its owner account and default API key from the `djstripe_apikey` table on every object and
every nested reference it syncs (hundreds of lookups per event). `stripe_keys_remembered` answers those lookups
from one read of that small table, remembered per process and read again at most `KEYS_CHECK_SECONDS` later
(and at once after an event failed): a key or account changed in the database is picked up within seconds.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from aragora_site import db
from aragora_site.caches import process_cache
from billing import stripe_reads
from billing.services import stripe_rows

KeyRow = tuple[int, str, str, bool, str | None]  # djstripe_id, secret, type, livemode, owner account id


KEYS_CHECK_SECONDS = 2.0


@dataclass
class _Keys:
    rows: tuple[KeyRow, ...]
    accounts: dict[str, Any] = field(default_factory=dict)
    checked_at: float = field(default_factory=time.monotonic)

    def owner(self, api_key: str) -> Any:
        for _, secret, _, _, owner_id in self.rows:
            if secret == api_key and owner_id:
                return self.accounts.get(owner_id)
        return None

    def default_key(self, account_id: str, livemode: bool | None) -> str | None:
        """As `Account.get_default_api_key`: the first secret key of the account (of that mode when given)."""
        for _, secret, key_type, key_livemode, owner_id in self.rows:
            if owner_id == account_id and key_type == "secret" and (livemode is None or key_livemode == livemode):
                return secret
        return None


_remembered: _Keys | None = None
_active: ContextVar[_Keys | None] = ContextVar("djstripe_keys", default=None)
_originals: dict[str, Any] = {}


@process_cache("dj-stripe API keys and owner accounts")
def stripe_keys_forget() -> None:
    """Drop the remembered keys (the next event reads the key table again)."""
    global _remembered
    _remembered = None


def _key_rows() -> tuple[KeyRow, ...]:
    from djstripe.models import APIKey

    rows = APIKey.objects.order_by("djstripe_id").values_list(
        "djstripe_id", "secret", "type", "livemode", "djstripe_owner_account_id"
    )
    return tuple(rows)


def _load_keys(api_key: str) -> _Keys:
    """Read the key table; when `api_key` has no owner yet, let dj-stripe find it (one GET /v1/account)."""
    from djstripe.models import Account

    rows = _key_rows()
    if not any(secret == api_key and owner for _, secret, _, _, owner in rows):
        # dj-stripe stores the key and asks Stripe for its account inside one transaction: ask first.
        find_owner = _originals["get_or_retrieve_for_api_key"]
        stripe_reads.stripe_reads_outside_transactions(lambda: find_owner(Account, api_key))
        rows = _key_rows()
    owners = {owner for *_, owner in rows if owner}
    return _Keys(rows=rows, accounts={account.id: account for account in Account.objects.filter(id__in=owners)})


@contextmanager
def stripe_keys_remembered(*, api_key: str) -> Iterator[Any]:
    """Answer dj-stripe's key and owner lookups from memory inside the block; yield the owner account.

    Call it outside any transaction: the first time a key is seen, dj-stripe asks Stripe which account owns it.
    """
    global _remembered
    keys = _remembered
    if keys is None or keys.owner(api_key) is None or time.monotonic() - keys.checked_at >= KEYS_CHECK_SECONDS:
        rows = _key_rows()
        if keys is None or keys.rows != rows or keys.owner(api_key) is None:
            keys = _load_keys(api_key)
        keys.checked_at = time.monotonic()
        _remembered = keys
    token = _active.set(keys)
    try:
        yield keys.owner(api_key)
    finally:
        _active.reset(token)


def _get_or_retrieve_for_api_key(cls: Any, api_key: str) -> Any:
    keys = _active.get()
    owner = keys.owner(api_key) if keys is not None else None
    return owner if owner is not None else _originals["get_or_retrieve_for_api_key"](cls, api_key)


def _get_default_api_key(self: Any, livemode: bool | None = None) -> str:
    keys = _active.get()
    if keys is None or self.id not in keys.accounts:
        return _originals["get_default_api_key"](self, livemode)
    from djstripe.settings import djstripe_settings

    mode = self.livemode if livemode is None else livemode
    found = keys.default_key(self.id, None if livemode is None else livemode)
    return found or djstripe_settings.get_default_api_key(mode)


def install() -> None:
    """Route dj-stripe's owner-account and default-key lookups through the remembered keys (once, at start-up)."""
    from djstripe.models import Account

    if _originals:
        return
    _originals["get_or_retrieve_for_api_key"] = Account.get_or_retrieve_for_api_key.__func__
    _originals["get_default_api_key"] = Account.get_default_api_key
    Account.get_or_retrieve_for_api_key = classmethod(_get_or_retrieve_for_api_key)
    Account.get_default_api_key = _get_default_api_key


# ---------------------------------------------------------------------------
# Syncing objects
# ---------------------------------------------------------------------------
def _model(name: str) -> Any:
    from djstripe import models

    return getattr(models, name)


def payload_is_complete(obj: dict[str, Any], *, api_version: str) -> bool:
    """Return True when an event's object can be stored as it is: in our API version, no list cut short.

    Stripe renders an event's object in the API version of the account or endpoint at the time it was created
    (dj-stripe re-reads every object for that reason), and embedded lists (`items`, `lines`) hold one page only.
    """
    if api_version != settings.STRIPE_API_VERSION:
        return False
    return not any(
        isinstance(value, dict) and value.get("object") == "list" and value.get("has_more") for value in obj.values()
    )


def stripe_event_unsaved(*, raw: dict[str, Any], owner: Any) -> Any:
    """Return dj-stripe's row of the event itself, unsaved, with the fields dj-stripe gives it."""
    request = raw.get("request")
    request = request if isinstance(request, dict) else {"id": request}
    return _model("Event")(
        id=raw["id"],
        type=raw["type"],
        api_version=raw.get("api_version") or "",
        data=raw.get("data") or {},
        livemode=raw.get("livemode"),
        created=datetime.fromtimestamp(raw["created"], tz=UTC),
        request_id=request.get("id") or "",
        idempotency_key=request.get("idempotency_key") or "",
        stripe_data=raw,
        djstripe_owner_account=owner,
    )


def stripe_delivery_statement(
    *, raw: dict[str, Any], meta: dict[str, Any], djstripe_event: Any = None, error: str = ""
) -> db.Statement:
    """Return the INSERT of dj-stripe's record of a delivery (a WebhookEventTrigger): the body, and any error.

    Call it while handling the error, if any: its traceback is recorded.
    """
    from djstripe.models import WebhookEventTrigger

    event_key = WebhookEventTrigger._meta.get_field("event").target_field.attname  # dj-stripe links by Stripe id
    row = {
        "remote_ip": meta.get("remote_ip") or "0.0.0.0",  # noqa: S104 (a record, not a bind address)
        "headers": meta.get("headers") or {},
        "body": json.dumps(raw),
        "valid": True,
        "processed": not error,
        "exception": error[:128],
        "traceback": traceback.format_exc() if error else "",
        "event_id": getattr(djstripe_event, event_key) if djstripe_event is not None else None,
    }
    return db.insert_statement(WebhookEventTrigger, [row])


class _Page(dict):
    """A list embedded in a complete payload (no further page), iterated as stripe's ListObject is: its items.

    It stays a dict for JSON (stored as sent); dj-stripe walks it with `auto_paging_iter()` or a plain `for`.
    """

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get("data") or [])

    def auto_paging_iter(self) -> Iterator[Any]:
        return iter(self)


def _with_pages(value: Any) -> Any:
    """Return a copy of a payload whose embedded lists are `_Page`s (dj-stripe adds keys to what it syncs)."""
    if isinstance(value, dict):
        copied = {key: _with_pages(item) for key, item in value.items()}
        return _Page(copied) if copied.get("object") == "list" else copied
    if isinstance(value, list):
        return [_with_pages(item) for item in value]
    return value


def stripe_object_sync(*, model: str, data: dict[str, Any], api_key: str, owner: Any = None) -> None:
    """Create or update dj-stripe's copy of a Stripe object from a complete event payload.

    Plain subscriptions and invoices are written in a few statements (`stripe_rows`); anything else goes through
    dj-stripe's generic sync. `owner` is dj-stripe's owner account of `api_key`, when known.
    """
    try:
        written = stripe_rows.stripe_rows_write(model=model, data=data, owner=owner)
    except stripe_rows.CustomerNotStored as missing:
        # A customer's first event: dj-stripe reads the customer from Stripe and stores it, as its own sync of
        # the object would, and the object's rows go in after it.
        stripe_object_reread(model="Customer", object_id=missing.customer_id, api_key=api_key)
        written = stripe_rows.stripe_rows_write(model=model, data=data, owner=owner)
    if not written:
        _model(model).sync_from_stripe_data(_with_pages(data), api_key=api_key)


def stripe_object_read(*, model: str, object_id: str, api_key: str) -> Any:
    """Return an object as Stripe has it now, read as dj-stripe reads it (same expansions)."""
    return _model(model)(id=object_id).api_retrieve(api_key=api_key)


def stripe_object_reread(*, model: str, object_id: str, api_key: str) -> Any:
    """Re-read an object from Stripe and sync dj-stripe's copy from it."""
    data = stripe_object_read(model=model, object_id=object_id, api_key=api_key)
    return _model(model).sync_from_stripe_data(data, api_key=api_key)
