"""Rows written by aragora_site.db's hand-built statements are the rows the ORM would write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from djstripe.models import WebhookEventTrigger

from aragora_site import db
from billing.models import StripeEventOutcome, StripeEventReceipt
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _stored(model, pk) -> dict:
    row = model_to_dict(model.objects.get(pk=pk))
    row.pop("id", None)
    return row


def test_an_instances_row_is_stored_as_save_stores_it():
    by_orm = StripeEventReceipt.objects.create(event_id="evt_orm", type="invoice.paid", stripe_created=CREATED)
    unsaved = StripeEventReceipt(event_id="evt_sql", type="invoice.paid", stripe_created=CREATED)
    [(pk,)] = db.statements_run(db.insert_statement(StripeEventReceipt, [db.instance_row(unsaved)], returning="id"))

    assert pk != by_orm.pk
    orm_row, sql_row = _stored(StripeEventReceipt, by_orm.pk), _stored(StripeEventReceipt, pk)
    assert orm_row.pop("event_id") == "evt_orm" and sql_row.pop("event_id") == "evt_sql"
    assert sql_row.pop("received_at") == unsaved.received_at
    assert abs((orm_row.pop("received_at") - unsaved.received_at).total_seconds()) < 60
    assert (
        sql_row
        == orm_row
        == {
            "type": "invoice.paid",
            "stripe_created": CREATED,
            "outcome": StripeEventOutcome.APPLIED,
            "organization": None,
        }
    )


def test_left_out_fields_take_their_defaults_and_auto_times_are_set():
    values = {"remote_ip": "10.0.0.1", "headers": {"a": "b"}, "body": '{"id": "evt_1"}', "processed": True}
    WebhookEventTrigger.objects.create(**values)
    db.statements_run(db.insert_statement(WebhookEventTrigger, [values]))

    orm, sql = WebhookEventTrigger.objects.order_by("id")
    for name in ["remote_ip", "headers", "body", "valid", "processed", "exception", "traceback", "djstripe_version"]:
        assert getattr(sql, name) == getattr(orm, name), name
    assert sql.created is not None and sql.updated is not None and sql.event_id is None


def test_an_unknown_field_is_refused_before_anything_is_written():
    with pytest.raises(TypeError, match="no field"):
        db.statements_run(db.insert_statement(StripeEventReceipt, [{"event_id": "evt_x", "colour": "red"}]))
    assert not StripeEventReceipt.objects.exists()


def test_an_upsert_updates_only_the_named_fields_of_a_clashing_row():
    first = {"event_id": "evt_up", "type": "invoice.paid", "stripe_created": CREATED}
    db.statements_run(db.insert_statement(StripeEventReceipt, [first]))
    later = {**first, "type": "invoice.payment_failed", "outcome": StripeEventOutcome.IGNORED}
    db.statements_run(db.insert_statement(StripeEventReceipt, [later], conflict="event_id", update=["outcome"]))
    skipped = {**later, "outcome": StripeEventOutcome.STALE}
    db.statements_run(db.insert_statement(StripeEventReceipt, [skipped], conflict="event_id"))

    receipt = StripeEventReceipt.objects.get()
    assert (receipt.type, receipt.outcome) == ("invoice.paid", StripeEventOutcome.IGNORED)


def test_statements_run_together_are_all_or_nothing():
    organization = OrganizationFactory()
    db.statements_run(
        db.insert_statement(StripeEventReceipt, [{"event_id": "evt_taken", "type": "t", "stripe_created": CREATED}])
    )
    update = db.update_statement(
        StripeEventReceipt, {"organization_id": organization.pk}, where="event_id", equals="evt_taken"
    )
    clash = db.insert_statement(StripeEventReceipt, [{"event_id": "evt_taken", "type": "t", "stripe_created": CREATED}])

    with pytest.raises(IntegrityError), transaction.atomic():
        db.statements_run(update, clash)
    assert StripeEventReceipt.objects.get().organization_id is None

    fresh = db.insert_statement(StripeEventReceipt, [{"event_id": "evt_new", "type": "t", "stripe_created": CREATED}])
    with transaction.atomic():
        db.statements_run(update, fresh, ("", []))
    assert StripeEventReceipt.objects.get(event_id="evt_taken").organization_id == organization.pk
    assert StripeEventReceipt.objects.filter(event_id="evt_new").exists()


def test_statements_run_returns_what_the_last_statement_returns():
    returning = db.insert_statement(
        StripeEventReceipt, [{"event_id": "evt_r", "type": "t", "stripe_created": CREATED}], returning="event_id"
    )
    other = db.insert_statement(StripeEventReceipt, [{"event_id": "evt_s", "type": "t", "stripe_created": CREATED}])
    with transaction.atomic():
        assert db.statements_run(other, returning) == [("evt_r",)]
    assert set(StripeEventReceipt.objects.values_list("event_id", flat=True)) == {"evt_r", "evt_s"}
