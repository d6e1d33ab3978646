"""Stripe webhook benchmark: events/s through POST /api/billing/webhook on SQLite and PostgreSQL.

Each event is signed with the real algorithm and posted to the real WSGI application in-process; the view
checks the signature, stores the event once, lets dj-stripe 2.11 process it (re-reading the objects from a
Stripe-compatible server on loopback, tests/billing/fake_stripe.py) and runs our handler, all in one
transaction. Notification channels are off, so the figures show the webhook path itself.

    .venv/bin/python bench/bench_webhooks.py [--events 300] [--orgs 30]

PostgreSQL is measured when one answers on 127.0.0.1:5432 (database bench_webhooks, created and dropped);
DATABASE_URL picks another server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_webhooks")


def _child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        ARAGORA_DATA_DIR=tempfile.mkdtemp(prefix="aragora-bench-webhooks-"),
        SECRET_KEY="bench-secret-key-" + "x" * 40,
        ARAGORA_JWT_SECRET="bench-jwt-secret-that-is-long-enough-0123456789",
        DJANGO_SETTINGS_MODULE="aragora_site.settings",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",
        # A throwaway database: dj-stripe's tables in one step instead of its 500-step history.
        DJSTRIPE_TEST_MIGRATIONS="1",
        STRIPE_SECRET_KEY="sk_test_51AragoraBench00000000000000000000",
        STRIPE_WEBHOOK_SECRET="whsec_bench_0123456789abcdef0123456789abcdef",
        STRIPE_PRICE_STARTER="price_bench_starter",
        STRIPE_PRICE_PROFESSIONAL="price_bench_professional",
        STRIPE_PRICE_ENTERPRISE="price_bench_enterprise",
        ARAGORA_SMTP_HOST="",
        ARAGORA_NOTIFICATION_WEBHOOK="",
    )
    if args.backend == "postgres":
        os.environ["DATABASE_URL"] = PG_URL
    else:
        os.environ.pop("DATABASE_URL", None)

    from tests.fakes.stripe_server import FakeStripe

    fake = FakeStripe().start()
    os.environ["STRIPE_API_BASE"] = fake.url

    import django

    django.setup()
    import logging

    logging.getLogger("stripe").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import Organization
    from billing.models import StripeEventReceipt
    from billing.stripe_client import verify_webhook_signature
    from tests.billing.factories import subscribed_organization
    from tests.fakes.stripe_plugin import stripe_signature

    call_command("migrate", verbosity=0)
    for tier, amount in [("starter", 9900), ("professional", 29900), ("enterprise", 99900)]:
        fake.add_product_and_price(price_id=f"price_bench_{tier}", unit_amount=amount, name=f"Aragora {tier}")

    from tests.fakes import stripe_plugin

    stripe_plugin.PRICES.update({t: (f"price_bench_{t}", 0) for t in ["starter", "professional", "enterprise"]})
    subs = [subscribed_organization(fake, tier="professional") for _ in range(args.orgs)]
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    start = int(time.time()) - args.events - 10

    payloads = []
    for n in range(args.events):
        s = subs[n % len(subs)]
        created = start + n
        kind = (n // len(subs)) % 3
        if kind == 0:
            obj = fake.update(s.subscription["id"], cancel_at_period_end=(n // len(subs)) % 2 == 0)
            event = fake.event("customer.subscription.updated", obj, created=created)
        else:
            invoice = fake.add_invoice(subscription_id=s.subscription["id"], status="open" if kind == 1 else "paid")
            event = fake.event("invoice.payment_failed" if kind == 1 else "invoice.paid", invoice, created=created)
        payloads.append(json.dumps(event).encode())

    client = Client()

    def post(body: bytes) -> int:
        return client.generic(
            "POST",
            "/api/billing/webhook",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signature(body, secret=secret),
        ).status_code

    calls_before = len(fake.requests)
    began = time.perf_counter()
    statuses = [post(body) for body in payloads]
    elapsed = time.perf_counter() - began
    assert statuses == [200] * len(payloads), sorted(set(statuses))
    stripe_calls = len(fake.requests) - calls_before
    applied = StripeEventReceipt.objects.filter(outcome="applied").count()

    began = time.perf_counter()
    duplicates = [post(body) for body in payloads[: args.events // 3]]
    duplicate_elapsed = time.perf_counter() - began
    assert duplicates == [200] * len(duplicates)

    began = time.perf_counter()
    for body in payloads:
        verify_webhook_signature(body, stripe_signature(body, secret=secret))
    signature_elapsed = time.perf_counter() - began

    result = {
        "backend": f"{connection.vendor} {connection.Database.sqlite_version if connection.vendor == 'sqlite' else ''}",
        "events": len(payloads),
        "applied": applied,
        "events_per_s": len(payloads) / elapsed,
        "ms_per_event": elapsed * 1000 / len(payloads),
        "stripe_calls_per_event": stripe_calls / len(payloads),
        "duplicates_per_s": len(duplicates) / duplicate_elapsed,
        "signature_only_per_s": len(payloads) / signature_elapsed,
        "orgs": Organization.objects.count(),
    }
    fake.stop()
    return result


def _postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return False
    return True


def _recreate_postgres_database(drop_only: bool = False) -> None:
    import psycopg

    name = PG_URL.rsplit("/", 1)[1]
    admin_url = PG_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _run(backend: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", backend, "--events", str(args.events), "--orgs", str(args.orgs)]
    res = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--orgs", type=int, default=30)
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.backend = args.child
        print(json.dumps(_child(args)))
        return

    results = [_run("sqlite", args)]
    if _postgres_reachable():
        _recreate_postgres_database()
        try:
            results.append(_run("postgres", args))
        finally:
            _recreate_postgres_database(drop_only=True)
    else:
        print("PostgreSQL is not answering on 127.0.0.1:5432: measured SQLite only.")

    print(f"{args.events} events over {args.orgs} organizations (subscription updates, failed and paid invoices)")
    header = (
        "| Database | events/s | ms/event | applied | Stripe API calls/event | duplicates/s | signature check only/s |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend'].strip()} | {r['events_per_s']:,.1f} | {r['ms_per_event']:.1f} | "
            f"{r['applied']}/{r['events']} | "
            f"{r['stripe_calls_per_event']:.2f} | {r['duplicates_per_s']:,.0f} | {r['signature_only_per_s']:,.0f} |"
        )


if __name__ == "__main__":
    main()
