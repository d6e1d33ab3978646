"""The SQLite backend: transactions begin and commit as Django's own backend does, watched or not."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization, User
from tests.fakes.stripe_plugin import database_write_lock_probe

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend"),
]


def test_an_unwatched_transaction_holds_the_write_lock_from_its_begin_and_commits():
    assert connection.settings_dict["ENGINE"] == "aragora_site.sqlite3"
    another_connection_sees_a_writer = database_write_lock_probe(connection.settings_dict)
    assert not another_connection_sees_a_writer()
    with transaction.atomic():
        assert another_connection_sees_a_writer()  # BEGIN IMMEDIATE, before any write
        Organization.objects.create(name="Kept", slug="kept")
    assert not another_connection_sees_a_writer()
    assert Organization.objects.filter(slug="kept").exists()


def test_an_unwatched_transaction_rolls_back_as_a_whole():
    with pytest.raises(RuntimeError), transaction.atomic():
        Organization.objects.create(name="Gone", slug="gone")
        raise RuntimeError("fail after the write")
    assert not Organization.objects.filter(slug="gone").exists()


def test_a_commit_the_database_refuses_raises_djangos_error_and_keeps_nothing():
    # SQLite checks Django's foreign keys (DEFERRABLE INITIALLY DEFERRED) at COMMIT
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="orphan@example.test", organization_id=uuid.uuid4())
    assert not connection.in_atomic_block and not connection.connection.in_transaction
    assert not User.objects.filter(email="orphan@example.test").exists()


def test_a_watched_transaction_shows_its_begin():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Organization.objects.create(name="Seen", slug="seen")
    assert queries.captured_queries[0]["sql"] == "BEGIN IMMEDIATE"
    assert queries.captured_queries[-1]["sql"] == "COMMIT"


def test_an_execute_wrapper_sees_the_begin():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper), transaction.atomic():
        Organization.objects.count()
    assert seen[0] == "BEGIN IMMEDIATE"


def test_a_begin_that_cannot_take_the_lock_raises_djangos_error_and_leaves_no_transaction():
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout=0")
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), transaction.atomic():
            pass
        assert not connection.in_atomic_block and not connection.connection.in_transaction
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        connection.connection.execute("PRAGMA busy_timeout=20000")
    with transaction.atomic():
        Organization.objects.create(name="After", slug="after")
    assert Organization.objects.filter(slug="after").exists()
