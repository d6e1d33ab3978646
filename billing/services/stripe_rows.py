"""dj-stripe's rows of a subscription or an invoice, written from a complete payload in a few statements.

dj-stripe's generic `sync_from_stripe_data` gets or creates the object, each reference and each embedded item one
ORM call at a time, most inside a savepoint: 11 to 14 statements for a subscription with one item. For the plain
shapes this service receives (references to rows dj-stripe already holds, no discounts or tax rates to link)
`stripe_rows_write` writes the same rows with one read of the references and one statement per table (sent
together on PostgreSQL).

The field values come from dj-stripe's own mapping (each field's `stripe_to_db`, as `_stripe_object_to_record`
does), and the write keeps dj-stripe's rules: the object and its subscription items are created or updated, an
invoice's lines are created once and never updated, a reference missing from the payload keeps its stored value.
Any other shape returns False having written nothing, and the caller syncs it the generic way. A plain payload
whose customer dj-stripe has not met yet raises CustomerNotStored, also having written nothing: the caller has
dj-stripe store the customer, then writes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models

from aragora_site import db

# References a plain payload may carry, each checked against dj-stripe's table before anything is written.
_CUSTOMER, _PRICE, _SUBSCRIPTION, _SUBSCRIPTION_ITEM = "customer", "price", "subscription", "subscription_item"


def _id(value: Any) -> str | None:
    """A reference's Stripe id: the string itself or an expanded object's `id` (as dj-stripe reads them)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("id") or None
    return None


def _entries(value: Any) -> list[dict[str, Any]]:
    """An embedded list's entries (a complete payload holds them all)."""
    if not value:
        return []
    return list(value.get("data") or []) if isinstance(value, dict) else list(value)


def _columns(model: type[models.Model], data: dict[str, Any]) -> dict[str, Any]:
    """dj-stripe's values for every column that is not a reference, as `_stripe_object_to_record` maps them."""
    values: dict[str, Any] = {"stripe_data": data}
    for model_field in model._meta.concrete_fields:
        if model_field.is_relation or model_field.name.startswith("djstripe_") or model_field.name == "stripe_data":
            continue
        stripe_to_db = getattr(model_field, "stripe_to_db", None)
        value = stripe_to_db(data) if stripe_to_db else data.get(model_field.name)
        if value is None and isinstance(model_field, models.CharField | models.TextField):
            value = ""
        values[model_field.name] = value
    return values


@dataclass
class _Rows:
    """The references one payload needs stored, and the items that must have no tax-rate links, to be written here."""

    needs: dict[str, set[str]] = field(
        default_factory=lambda: {_CUSTOMER: set(), _PRICE: set(), _SUBSCRIPTION: set(), _SUBSCRIPTION_ITEM: set()}
    )
    items_without_tax_links: set[str] = field(default_factory=set)

    def need(self, kind: str, stripe_id: str | None) -> None:
        if stripe_id:
            self.needs[kind].add(stripe_id)


class CustomerNotStored(Exception):
    """The payload's customer is the one reference dj-stripe does not hold yet: store it, then write again."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(customer_id)
        self.customer_id = customer_id


def _references(plan: _Rows) -> dict[str, dict[str, int]] | None:
    """Read every reference `plan` needs in one query; None when one is missing or an item has tax-rate links.

    Returns {kind: {stripe id: dj-stripe row id}}. Raises CustomerNotStored when the customer is all that is
    missing (a customer's first event).
    """
    from djstripe.models import Customer, Price, Subscription, SubscriptionItem

    tables = {_CUSTOMER: Customer, _PRICE: Price, _SUBSCRIPTION: Subscription, _SUBSCRIPTION_ITEM: SubscriptionItem}
    parts, params = [], []
    for kind, ids in plan.needs.items():
        if ids:
            table = connection.ops.quote_name(tables[kind]._meta.db_table)
            marks = ", ".join(["%s"] * len(ids))
            parts.append(f"SELECT '{kind}', id, djstripe_id FROM {table} WHERE id IN ({marks})")  # noqa: S608 - _meta
            params += sorted(ids)
    if plan.items_without_tax_links:
        through = SubscriptionItem.tax_rates.through._meta
        item_column = through.get_field("subscriptionitem").column
        items = connection.ops.quote_name(SubscriptionItem._meta.db_table)
        marks = ", ".join(["%s"] * len(plan.items_without_tax_links))
        parts.append(
            f"SELECT 'tax_rate_link', i.id, 0 FROM {connection.ops.quote_name(through.db_table)} t "  # noqa: S608 - _meta
            f"JOIN {items} i ON i.djstripe_id = t.{connection.ops.quote_name(item_column)} WHERE i.id IN ({marks})"
        )
        params += sorted(plan.items_without_tax_links)
    found: dict[str, dict[str, int]] = {kind: {} for kind in [*tables, "tax_rate_link"]}
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for kind, stripe_id, row_id in cursor.fetchall():
                found[kind][stripe_id] = row_id
    if found["tax_rate_link"]:
        return None
    missing = {kind for kind, ids in plan.needs.items() if not ids <= found[kind].keys()}
    if missing == {_CUSTOMER}:
        raise CustomerNotStored(next(iter(plan.needs[_CUSTOMER])))
    return None if missing else found


def _upsert(model: type[models.Model], rows: list[dict[str, Any]]) -> db.Statement:
    """Return the statement that creates or updates rows by Stripe id (dj-stripe's row id and creation time kept).

    Every row sets the same columns.
    """
    if not rows:
        return "", []
    return db.insert_statement(
        model, rows, conflict="id", update=sorted(rows[0].keys() - {"id"} | {"djstripe_updated"})
    )


def _subscription(data: dict[str, Any], owner_id: str) -> bool:
    from djstripe.models import Subscription, SubscriptionItem

    customer = _id(data.get("customer"))
    if not customer or data.get("discounts") or data.get("default_tax_rates"):
        return False
    plan = _Rows()
    plan.need(_CUSTOMER, customer)
    items = _entries(data.get("items"))
    for item in items:
        price = _id(item.get("price"))
        if (
            item.get("object") != "subscription_item"
            or not item.get("id")
            or not price
            or item.get("tax_rates")
            or item.get("discounts")
            or _id(item.get("subscription")) != data["id"]
        ):
            return False
        plan.need(_PRICE, price)
        plan.items_without_tax_links.add(item["id"])
    found = _references(plan)
    if found is None:
        return False
    owner = {"djstripe_owner_account_id": owner_id}
    subscription = _upsert(Subscription, [{**_columns(Subscription, data), "customer_id": customer, **owner}])
    items_upsert = _upsert(
        SubscriptionItem,
        [
            {
                **_columns(SubscriptionItem, item),
                "price_id": found[_PRICE][_id(item["price"])],
                "subscription_id": data["id"],
                **owner,
            }
            for item in items
        ],
    )
    db.statements_run(subscription, items_upsert)
    return True


# An invoice's references that a plain payload leaves empty (dj-stripe would fetch or sync what they name).
_INVOICE_UNSYNCED = ("charge", "payment_intent", "default_payment_method")
_LINE_REFERENCES = {"subscription": _SUBSCRIPTION, "subscription_item": _SUBSCRIPTION_ITEM}


def _invoice(data: dict[str, Any], owner_id: str) -> bool:
    from djstripe.models import Invoice, LineItem

    customer = _id(data.get("customer"))
    created = data.get("created")
    if not customer or not isinstance(created, int) or data.get("discounts"):
        return False
    if any(data.get(name) for name in _INVOICE_UNSYNCED):
        return False
    plan = _Rows()
    plan.need(_CUSTOMER, customer)
    plan.need(_SUBSCRIPTION, _id(data.get("subscription")))
    lines = _entries(data.get("lines"))
    for line in lines:
        period = line.get("period")
        if (
            line.get("object") != "line_item"
            or not line.get("id")
            or line.get("discounts")
            or line.get("invoice_item")
            or not isinstance(period, dict)
            or "start" not in period
            or "end" not in period
        ):
            return False
        for name, kind in _LINE_REFERENCES.items():
            plan.need(kind, _id(line.get(name)))
    if _references(plan) is None:
        return False

    owner = {"djstripe_owner_account_id": owner_id}
    row = {**_columns(Invoice, data), "customer_id": customer, **owner}
    for name in (*_INVOICE_UNSYNCED, "subscription"):
        if name in data:  # a reference the payload leaves out keeps what is stored
            row[f"{name}_id"] = _id(data[name])

    line_rows = []
    for line in lines:
        # dj-stripe's additions to each line before it stores it (invoice, customer, date, then the period).
        stored = dict(line)
        stored.setdefault("invoice", data["id"])
        stored.setdefault("customer", customer)
        stored.setdefault("date", created)
        stored["period_start"], stored["period_end"] = stored["period"]["start"], stored["period"]["end"]
        line_row = {**_columns(LineItem, stored), **owner}
        for name in _LINE_REFERENCES:
            if name in stored:
                line_row[f"{name}_id"] = _id(stored[name])
        line_rows.append(line_row)
    # Lines are created once, never updated.
    db.statements_run(_upsert(Invoice, [row]), db.insert_statement(LineItem, line_rows, conflict="id"))
    return True


_WRITERS = {"Subscription": _subscription, "Invoice": _invoice}


def stripe_rows_write(*, model: str, data: dict[str, Any], owner: Any) -> bool:
    """Write dj-stripe's rows for a complete, plain payload of `model`; return False (nothing written) otherwise.

    `owner` is dj-stripe's owner account of the API key in use. Call it inside the event's transaction.
    Raises CustomerNotStored (nothing written) when the payload is plain but its customer is not stored yet.
    """
    writer = _WRITERS.get(model)
    if writer is None or owner is None or not data.get("id") or data.get("object") != model.lower():
        return False
    return writer(data, owner.id)
