"""dj-stripe's rows written directly from a plain payload are the rows dj-stripe's own sync writes.

Each case syncs one payload both ways from the same database state (dj-stripe's `sync_from_stripe_data`, rolled
back, then `stripe_rows_write`) and compares every stored column but dj-stripe's row ids and timestamps.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from djstripe.models import Customer, Invoice, LineItem, Price, Subscription, SubscriptionItem, TaxRate

from billing import stripe_client
from billing.services import stripe_mirror
from billing.services.stripe_rows import CustomerNotStored, stripe_rows_write
from tests.billing.factories import subscribed_organization
from tests.fakes.stripe_plugin import PRICES, deliver

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = {"Subscription": Subscription, "Invoice": Invoice}
UNCOMPARED = {"djstripe_id", "djstripe_created", "djstripe_updated"}


def _stored() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables a subscription or an invoice writes, by Stripe id, without dj-stripe's own ids."""
    rows = {
        model.__name__: sorted(
            ({k: v for k, v in row.items() if k not in UNCOMPARED} for row in model.objects.values()),
            key=lambda row: row["id"],
        )
        for model in (Customer, Subscription, SubscriptionItem, Invoice, LineItem)
    }
    rows["item tax rates"] = sorted(SubscriptionItem.tax_rates.through.objects.values_list("subscriptionitem__id"))
    return rows


@pytest.fixture
def stripe_world(fake_stripe):
    """Two subscribed organizations whose customers, subscriptions and prices dj-stripe already holds."""
    subscribed = [subscribed_organization(fake_stripe, tier=tier) for tier in ("starter", "professional")]
    for n, s in enumerate(subscribed):
        event = fake_stripe.event("customer.subscription.updated", s.subscription, created=int(time.time()) - 600 + n)
        assert deliver(event).status_code == 200
    api_key = stripe_client.stripe_config().secret_key
    with stripe_mirror.stripe_keys_remembered(api_key=api_key) as owner:
        yield fake_stripe, subscribed, owner, api_key


def _both_ways(world, model: str, data: dict[str, Any], *, through_mirror: bool = False) -> tuple[dict, dict]:
    """The rows after dj-stripe's sync and after the direct write, each from the state before; keeps the second.

    `through_mirror` writes through `stripe_object_sync` (which stores an unknown customer first) instead.
    """
    _, _, owner, api_key = world
    with transaction.atomic():
        before = transaction.savepoint()
        MODELS[model].sync_from_stripe_data(stripe_mirror._with_pages(copy.deepcopy(data)), api_key=api_key)
        generic = _stored()
        transaction.savepoint_rollback(before)
        if through_mirror:
            with CaptureQueriesContext(connection) as statements:
                stripe_mirror.stripe_object_sync(model=model, data=copy.deepcopy(data), api_key=api_key, owner=owner)
            # dj-stripe's generic sync of the object reads it back by id; the direct write never does.
            reads = [q["sql"] for q in statements.captured_queries if q["sql"].startswith("SELECT")]
            assert not [sql for sql in reads if f'FROM "{MODELS[model]._meta.db_table}"' in sql], reads
        else:
            assert stripe_rows_write(model=model, data=copy.deepcopy(data), owner=owner) is True
        direct = _stored()
    return generic, direct


def _unwritten(world, model: str, data: dict[str, Any]) -> None:
    _, _, owner, _ = world
    before = _stored()
    assert stripe_rows_write(model=model, data=data, owner=owner) is False
    assert _stored() == before


def test_an_updated_subscription_with_a_changed_and_an_added_item_is_stored_as_djstripe_stores_it(stripe_world):
    fake, (starter, _), _, _ = stripe_world
    sub = copy.deepcopy(starter.subscription)
    item = sub["items"]["data"][0]
    added = copy.deepcopy(item) | {"id": "si_added0001", "quantity": 3, "price": fake.get(PRICES["professional"][0])}
    item["quantity"] = 2
    sub["items"]["data"].append(added)
    sub.update(cancel_at_period_end=True, metadata={"org_id": "7", "note": "changed"}, status="past_due")

    generic, direct = _both_ways(stripe_world, "Subscription", sub)

    assert direct == generic
    stored = Subscription.objects.get(id=sub["id"])
    assert stored.stripe_data["status"] == "past_due" and stored.metadata == {"org_id": "7", "note": "changed"}
    items = {i.id: i for i in SubscriptionItem.objects.filter(subscription_id=sub["id"])}
    assert items["si_added0001"].price.id == PRICES["professional"][0] and items["si_added0001"].quantity == 3
    assert items[item["id"]].quantity == 2


def test_a_new_subscription_of_a_known_customer_is_stored_as_djstripe_stores_it(stripe_world):
    fake, (starter, _), _, _ = stripe_world
    sub = fake.add_subscription(customer_id=starter.customer["id"], price_id=PRICES["enterprise"][0])
    sub["items"]["data"][0]["price"] = fake.get(PRICES["starter"][0])  # a price dj-stripe holds

    generic, direct = _both_ways(stripe_world, "Subscription", sub)

    assert direct == generic
    assert Subscription.objects.get(id=sub["id"]).customer_id == starter.customer["id"]


def test_a_new_invoice_and_then_its_payment_are_stored_as_djstripe_stores_them(stripe_world):
    fake, (starter, _), _, _ = stripe_world
    invoice = fake.add_invoice(subscription_id=starter.subscription["id"], status="open")

    generic, direct = _both_ways(stripe_world, "Invoice", invoice)
    assert direct == generic
    (line,) = LineItem.objects.filter(id=invoice["lines"]["data"][0]["id"])
    assert line.stripe_data["invoice"] == invoice["id"] and line.stripe_data["date"] == invoice["created"]

    # Paid, with its line's amount changed and a second line: dj-stripe creates lines once and never updates them.
    paid = copy.deepcopy(invoice) | {"status": "paid", "amount_paid": invoice["amount_due"]}
    first = paid["lines"]["data"][0]
    first["amount"] = 1
    paid["lines"]["data"].append(copy.deepcopy(first) | {"id": "il_second0001", "amount": 500})

    generic, direct = _both_ways(stripe_world, "Invoice", paid)
    assert direct == generic
    assert Invoice.objects.get(id=invoice["id"]).stripe_data["status"] == "paid"
    assert LineItem.objects.get(id=first["id"]).stripe_data["amount"] == invoice["lines"]["data"][0]["amount"]
    assert LineItem.objects.get(id="il_second0001").stripe_data["amount"] == 500


def test_a_first_event_of_a_customer_stores_the_customer_then_the_rows_as_djstripe_does(stripe_world):
    fake, _, owner, _ = stripe_world
    customer = fake.add_customer(email="new@example.com", metadata={"org_id": "x"})
    sub = fake.add_subscription(customer_id=customer["id"], price_id=PRICES["starter"][0])
    before = _stored()
    with pytest.raises(CustomerNotStored):
        stripe_rows_write(model="Subscription", data=sub, owner=owner)
    assert _stored() == before

    generic, direct = _both_ways(stripe_world, "Subscription", sub, through_mirror=True)

    assert direct == generic
    assert Customer.objects.get(id=customer["id"]).email == "new@example.com"
    assert Subscription.objects.get(id=sub["id"]).customer_id == customer["id"]


def test_an_invoice_naming_its_subscription_at_the_top_keeps_it_until_a_payload_clears_it(stripe_world):
    """Older API versions name the subscription on the invoice and its lines; a key left out keeps what is stored."""
    fake, (starter, _), _, _ = stripe_world
    sub_id, item_id = starter.subscription["id"], starter.subscription["items"]["data"][0]["id"]
    invoice = fake.add_invoice(subscription_id=sub_id) | {"subscription": sub_id}
    invoice["lines"]["data"][0].update(subscription=sub_id, subscription_item=item_id)

    generic, direct = _both_ways(stripe_world, "Invoice", invoice)
    assert direct == generic
    assert Invoice.objects.get(id=invoice["id"]).subscription_id == sub_id
    assert LineItem.objects.get(id=invoice["lines"]["data"][0]["id"]).subscription_item_id == item_id

    without = {k: v for k, v in invoice.items() if k != "subscription"}
    generic, direct = _both_ways(stripe_world, "Invoice", without)
    assert direct == generic
    assert Invoice.objects.get(id=invoice["id"]).subscription_id == sub_id

    generic, direct = _both_ways(stripe_world, "Invoice", invoice | {"subscription": None})
    assert direct == generic
    assert Invoice.objects.get(id=invoice["id"]).subscription_id is None


def _with_tax_rate_link(item_id: str) -> None:
    rate = TaxRate.objects.create(id="txr_test0001", stripe_data={"id": "txr_test0001", "percentage": 20})
    SubscriptionItem.objects.get(id=item_id).tax_rates.add(rate)


@pytest.mark.parametrize(
    "case",
    [
        "unknown customer and price",
        "unknown price",
        "item tax rates",
        "subscription discounts",
        "stored tax-rate link",
        "another object",
        "no owner account",
    ],
)
def test_a_subscription_that_is_not_plain_is_left_to_djstripe_and_nothing_is_written(stripe_world, case):
    _, (starter, _), _, _ = stripe_world
    sub = copy.deepcopy(starter.subscription) | {"status": "canceled"}
    item = sub["items"]["data"][0]
    if case == "unknown customer and price":
        sub["customer"] = "cus_neverseen0001"
        item["price"] = item["price"] | {"id": "price_neverseen0001"}
    elif case == "unknown price":
        item["price"] = item["price"] | {"id": "price_neverseen0001"}
    elif case == "item tax rates":
        item["tax_rates"] = [{"id": "txr_x", "object": "tax_rate"}]
    elif case == "subscription discounts":
        sub["discounts"] = ["di_x"]
    elif case == "stored tax-rate link":
        _with_tax_rate_link(item["id"])
    elif case == "another object":
        sub["object"] = "invoice"
    if case == "no owner account":
        before = _stored()
        assert stripe_rows_write(model="Subscription", data=sub, owner=None) is False
        assert _stored() == before
    else:
        _unwritten(stripe_world, "Subscription", sub)
    assert Subscription.objects.get(id=sub["id"]).stripe_data["status"] != "canceled"


@pytest.mark.parametrize("case", ["charge", "invoice item line", "unknown subscription", "line without period"])
def test_an_invoice_that_is_not_plain_is_left_to_djstripe_and_nothing_is_written(stripe_world, case):
    fake, (starter, _), _, _ = stripe_world
    invoice = fake.add_invoice(subscription_id=starter.subscription["id"])
    line = invoice["lines"]["data"][0]
    if case == "charge":
        invoice["charge"] = "ch_x"
    elif case == "invoice item line":
        line["invoice_item"] = "ii_x"
    elif case == "unknown subscription":
        invoice["subscription"] = "sub_neverseen0001"
    elif case == "line without period":
        del line["period"]
    _unwritten(stripe_world, "Invoice", invoice)
    assert not Invoice.objects.filter(id=invoice["id"]).exists()


def test_a_warm_subscription_event_writes_djstripes_rows_in_a_few_statements(stripe_world):
    """The webhook takes the direct write for a plain payload: one read of the references, one upsert per table
    (on PostgreSQL both upserts travel as one statement)."""
    fake, (starter, _), _, _ = stripe_world
    changed = fake.update(starter.subscription["id"], cancel_at_period_end=True)
    event = fake.event("customer.subscription.updated", changed, created=int(time.time()) - 5)
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert deliver(event).status_code == 200

    djstripe_statements = [s for s in statements if "djstripe_subscription" in s or "djstripe_customer" in s]
    assert len(djstripe_statements) == (2 if connection.vendor == "postgresql" else 3), djstripe_statements
    assert not [s for s in statements if s.startswith("SAVEPOINT")]
    assert Subscription.objects.get(id=changed["id"]).stripe_data["cancel_at_period_end"] is True
    assert Customer.objects.filter(id=starter.customer["id"]).exists() and Price.objects.exists()
