"""Stripe webhook benchmark: events/s through POST /api/billing/webhook on SQLite and PostgreSQL.

Each event is signed with the real algorithm and posted to the real WSGI application in-process; the view
checks the signature, claims the event once, syncs dj-stripe's copy of its object and runs our handler in one
transaction. Stripe is a Stripe-compatible server on loopback (tests/fakes/stripe_server.py) that counts the
requests it gets. Notification channels are off, so the figures show the webhook path itself.

    .venv/bin/python bench/bench_webhooks.py [--events 300] [--orgs 30] [--rounds 3] [--warmup 60]

Every round runs one fresh process per database and per code version, in alternating order: the current code
and, as "before", the files of `--baseline` (default: the revision before webhook events stopped re-reading
every object from Stripe inside their transaction, taken with `git archive`). Each process first delivers
`--warmup` events to organizations of its own, then measures new events, duplicate deliveries and the signature
check alone. Each measured organization's first event is the first time dj-stripe sees its customer (a Stripe
read and dj-stripe's generic sync); `--known-customers` introduces every customer before measuring instead, as a
live service has met them at checkout. The table shows the median of the rounds and each version's ratio to
"before" on the same machine at the same time. PostgreSQL is measured when one answers on 127.0.0.1:5432
(database bench_webhooks, created and dropped per run); DATABASE_URL picks another server.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after the code under test (see --app-root): only bench.postgres comes from here
PG_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_webhooks")
# The code before webhooks stopped letting dj-stripe re-read every object inside the event's transaction: measured
# in the same run, alternating with the current code (its files taken with `git archive`, nothing checked out).
BASELINE_REV = "bc75eb1"


def _child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, args.app_root or str(ROOT))
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
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    warmup, _ = _payloads(fake, subscribed_organization, n_events=args.warmup, n_orgs=max(1, args.orgs // 6))
    payloads, introductions = _payloads(fake, subscribed_organization, n_events=args.events, n_orgs=args.orgs)
    if args.known_customers:  # each measured organization's customer is seen once before: the steady state
        warmup += introductions
    client = Client()
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def post(body: bytes) -> int:
        return client.generic(
            "POST",
            "/api/billing/webhook",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signature(body, secret=secret),
        ).status_code

    def measure(bodies: list[bytes]) -> tuple[float, int, int]:
        """Deliver `bodies` in order; return (seconds, database queries, Stripe requests)."""
        queries[0], calls_before = 0, len(fake.requests)
        with connection.execute_wrapper(count):
            began = time.perf_counter()
            statuses = [post(body) for body in bodies]
            elapsed = time.perf_counter() - began
        assert statuses == [200] * len(bodies), sorted(set(statuses))
        return elapsed, queries[0], len(fake.requests) - calls_before

    measure(warmup)
    applied_before = StripeEventReceipt.objects.filter(outcome="applied").count()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    elapsed, new_queries, stripe_calls = measure(payloads)
    if profiler is not None:
        import pstats

        profiler.disable()
        profiler.dump_stats(Path(tempfile.gettempdir()) / f"bench_webhooks_{args.backend}.prof")
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "40")))
    applied = StripeEventReceipt.objects.filter(outcome="applied").count() - applied_before
    duplicates = payloads[: max(1, args.events // 3)]
    duplicate_elapsed, duplicate_queries, duplicate_calls = measure(duplicates)

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
        "queries_per_event": new_queries / len(payloads),
        "stripe_calls_per_event": stripe_calls / len(payloads),
        "duplicates_per_s": len(duplicates) / duplicate_elapsed,
        "queries_per_duplicate": duplicate_queries / len(duplicates),
        "stripe_calls_per_duplicate": duplicate_calls / len(duplicates),
        "signature_only_per_s": len(payloads) / signature_elapsed,
        "orgs": Organization.objects.count(),
    }
    fake.stop()
    return result


def _payloads(fake, subscribed_organization, *, n_events: int, n_orgs: int) -> tuple[list[bytes], list[bytes]]:
    """Signed-later event bodies over `n_orgs` new organizations: subscription updates, failed and paid invoices.

    Also returns one older subscription event per organization, which introduces its customer to dj-stripe.
    """
    subs = [subscribed_organization(fake, tier="professional") for _ in range(n_orgs)]
    start = int(time.time()) - n_events - 10
    introductions = [
        json.dumps(fake.event("customer.subscription.updated", s.subscription, created=start - 60)).encode()
        for s in subs
    ]
    payloads = []
    for n in range(n_events):
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
    return payloads, introductions


def _postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return False
    return True


def _recreate_postgres_database(drop_only: bool = False) -> None:
    from bench.postgres import recreate_database

    recreate_database(PG_URL, drop_only=drop_only)


def _run(backend: str, args: argparse.Namespace, app_root: str = "") -> dict:
    command = [sys.executable, __file__, "--child", backend, "--events", str(args.events), "--orgs", str(args.orgs)]
    command += ["--warmup", str(args.warmup)] + (["--profile"] if args.profile else [])
    command += ["--known-customers"] if args.known_customers else []
    command += ["--app-root", app_root] if app_root else []
    if backend == "postgres":
        _recreate_postgres_database()
    try:
        res = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    finally:
        if backend == "postgres":
            _recreate_postgres_database(drop_only=True)
    if res.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{res.stdout}\n{res.stderr}")
    if args.profile:
        print(res.stderr[-12000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median_result(runs: list[dict]) -> dict:
    """Each figure's median over the rounds (counts are the same in every round)."""
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            merged[key] = statistics.median(run[key] for run in runs)
    merged["spread"] = (min(r["events_per_s"] for r in runs), max(r["events_per_s"] for r in runs))
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--orgs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument(
        "--known-customers",
        action="store_true",
        help="introduce each measured organization's customer before measuring (no first sightings measured)",
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="measure one database")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the measured events")
    parser.add_argument(
        "--baseline", default=BASELINE_REV, help="git revision measured alongside, as 'before' ('' to skip)"
    )
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--app-root", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.backend = args.child
        print(json.dumps(_child(args)))
        return

    backends = [args.only] if args.only else ["sqlite", "postgres"]
    if "postgres" in backends and not _postgres_reachable():
        print("PostgreSQL is not answering on 127.0.0.1:5432: measured SQLite only.")
        backends.remove("postgres")
    baseline_root = _extract(args.baseline) if args.baseline else ""
    variants = [(backend, "") for backend in backends] + (
        [(b, baseline_root) for b in backends] if baseline_root else []
    )
    runs: dict[tuple[str, str], list[dict]] = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        for backend, root in variants if round_ % 2 == 0 else list(reversed(variants)):
            runs[(backend, root)].append(_run(backend, args, root))
    results = {variant: _median_result(variant_runs) for variant, variant_runs in runs.items()}

    print(
        f"{args.events} new events over {args.orgs} organizations (subscription updates, failed and paid invoices), "
        f"after {args.warmup} warm-up events; median of {args.rounds} rounds, runs alternating; "
        + (
            "every customer seen before"
            if args.known_customers
            else "each organization's first event is its first sighting"
        )
    )
    print(
        "| Code | Database | events/s (min-max) | ms/event | applied | queries/event | Stripe calls/event "
        "| duplicate deliveries/s (queries each) | signature check alone/s | new / duplicate cost | events/s / before |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for backend in backends:
        before = results.get((backend, baseline_root)) if baseline_root else None
        for root, label in [("", "now"), (baseline_root, f"before ({args.baseline})")] if before else [("", "now")]:
            r = results[(backend, root)]
            low, high = r["spread"]
            versus = f"{r['events_per_s'] / before['events_per_s']:.2f}x" if before else "n/a"
            print(
                f"| {label} | {r['backend'].strip()} | {r['events_per_s']:,.1f} ({low:,.0f}-{high:,.0f}) | "
                f"{r['ms_per_event']:.2f} | {r['applied']}/{r['events']} | {r['queries_per_event']:.1f} | "
                f"{r['stripe_calls_per_event']:.2f} | "
                f"{r['duplicates_per_s']:,.0f} ({r['queries_per_duplicate']:.0f}) | "
                f"{r['signature_only_per_s']:,.0f} | {r['duplicates_per_s'] / r['events_per_s']:.1f}x | {versus} |"
            )
    if baseline_root:
        shutil.rmtree(baseline_root, ignore_errors=True)


def _extract(revision: str) -> str:
    """Write the files of `revision` to a temporary directory (read from git, nothing checked out); return it."""
    target = tempfile.mkdtemp(prefix=f"aragora-bench-{revision}-")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision], capture_output=True, check=True, timeout=120
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


if __name__ == "__main__":
    main()
