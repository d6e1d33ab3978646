"""Usage metering at scale on PostgreSQL: summaries, event reads and ingest as `usage_events` grows to 10M rows.

One organization holds every generated event (the worst case for its own reads; the table's size is what
ingest feels). At each size in --steps the script:

1. generates the missing events server-side (INSERT ... SELECT generate_series, in chunks of 1M), over the
   last 365 days, rebuilds the organization's rollups with the repair service, and vacuums, analyzes and
   checkpoints, so that the bulk load's aftermath does not land on the timings;
2. times the reads, median / p95 ms over --repeat calls, for that organization against one with 1,000 events
   (the ratio shows whether the read depends on the data's size): the six summary reads of the cost API, the
   dashboard's recent events, the first 1,000 rows of a 30-day CSV export, the staff overview's fallback-priced
   models;
3. times ingest into the same organization: `record_event` (one event per transaction) and `record_events`
   (batches of 1,000), against the same measured on the empty table at the start of the run;
4. prints the table's and its indexes' sizes.

At the end it times deleting the oldest month of events (retention without partitions).

    .venv/bin/python bench/bench_scale_postgres.py                         # 1M, then 10M (about 15 minutes)
    .venv/bin/python bench/bench_scale_postgres.py --steps 1000000         # 1M only
    .venv/bin/python bench/bench_scale_postgres.py --postgres postgres://postgres@127.0.0.1:5432/bench_scale

The database named in --postgres is dropped and created.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/bench_scale", metavar="URL")
parser.add_argument("--steps", default="1000000,10000000", help="comma-separated event counts to measure at")
parser.add_argument("--repeat", type=int, default=30, help="calls per read")
ARGS = parser.parse_args()

from bench.postgres import recreate_database  # noqa: E402

recreate_database(ARGS.postgres)
os.environ.update(
    DATABASE_URL=ARGS.postgres,
    ARAGORA_DATA_DIR=tempfile.mkdtemp(prefix="aragora-bench-scale-"),
    SECRET_KEY="bench-secret-key-" + "x" * 40,
    ARAGORA_JWT_SECRET="bench-jwt-secret-that-is-long-enough-0123456789",
    DJANGO_SETTINGS_MODULE="aragora_site.settings",
    DJSTRIPE_TEST_MIGRATIONS="1",
    LOG_LEVEL="WARNING",
    DEBUG="0",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization, Role, User  # noqa: E402
from aragora_site.overview import unpriced_models  # noqa: E402
from billing.tiers import SubscriptionTier  # noqa: E402
from usage import selectors  # noqa: E402
from usage.services.periods import usage_aggregates_rebuild  # noqa: E402
from usage.tracker import UsageTracker  # noqa: E402

DAYS = 365
CHUNK = 1_000_000
# (provider, model, USD per 1M input tokens, per 1M output tokens): a mix like production's
MODELS = [
    ("anthropic", "claude-sonnet-4", 3, 15),
    ("openai", "gpt-5", 1.25, 10),
    ("anthropic", "claude-opus-4", 15, 75),
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("deepseek", "deepseek-v3", 0.14, 0.28),
    ("google", "gemini-pro", 1.25, 5),
]


def _org(name: str) -> tuple[Organization, list[User]]:
    org = Organization.objects.create(name=name, slug=name, tier=SubscriptionTier.ENTERPRISE)
    users = [
        User.objects.create_user(email=f"u{i}@{name}.test", password=None, organization=org, role=Role.ADMIN)
        for i in range(5)
    ]
    return org, users


def _generate(org: Organization, users: list[User], count: int, *, unpriced_share: float = 0.001) -> float:
    """Insert `count` events for `org` with server-side SQL; return the seconds taken."""
    providers = "ARRAY[" + ", ".join(f"'{p}'" for p, *_ in MODELS) + "]"
    models = "ARRAY[" + ", ".join(f"'{m}'" for _, m, *_ in MODELS) + "]"
    p_in = "ARRAY[" + ", ".join(str(p) for *_, p, _ in MODELS) + "]::numeric[]"
    p_out = "ARRAY[" + ", ".join(str(p) for *_, p in MODELS) + "]::numeric[]"
    user_ids = "ARRAY[" + ", ".join(f"'{u.id}'::uuid" for u in users) + "]"
    sql = f"""
        INSERT INTO usage_events (id, org_id, user_id, api_key_id, event_type, provider, model, tokens_in,
            tokens_out, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, unpriced, price_id,
            metadata, idempotency_key, fingerprint, created_at, recorded_at)
        SELECT gen_random_uuid(), %(org)s, ({user_ids})[1 + (i %% {len(users)})], NULL,
            CASE WHEN i %% 3 = 0 THEN 'api_call' ELSE 'agent_call' END,
            ({providers})[1 + m], ({models})[1 + m], t_in, t_out, 0, 0, 0,
            round((t_in * ({p_in})[1 + m] + t_out * ({p_out})[1 + m]) / 1000000, 10),
            random() < %(unpriced)s, NULL, '{{}}'::jsonb, '', '', at, at
        FROM (
            SELECT i, (i * 7919) %% {len(MODELS)} AS m, 100 + (i * 104729) %% 20000 AS t_in,
                10 + (i * 1299709) %% 4000 AS t_out,
                now() - (random() * interval '{DAYS} days') AS at
            FROM generate_series(1::bigint, %(count)s) AS i
        ) AS g
    """  # noqa: S608 - only literals of this script
    started = time.perf_counter()
    done = 0
    while done < count:
        step = min(CHUNK, count - done)
        with connection.cursor() as cursor:
            cursor.execute(sql, {"org": org.id, "count": step, "unpriced": unpriced_share})
        done += step
        print(f"  generated {done:,} / {count:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def _latency(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm: the first call pays for plans and cold pages once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(int(len(times) * 0.95) - 1, 0)]


def _reads(org: Organization) -> dict:
    today = timezone.localdate()
    period = today - timedelta(days=29)
    now = timezone.now()
    return {
        "usage summary (30 days)": lambda: selectors.usage_summary(organization_id=org.pk, start=period, end=today),
        "cost summary (period)": lambda: selectors.cost_summary(organization=org),
        "timeseries (30 days, daily)": lambda: selectors.cost_timeseries(
            organization_id=org.pk, start=period, end=today
        ),
        "timeseries (365 days, monthly)": lambda: selectors.cost_timeseries(
            organization_id=org.pk, start=today - timedelta(days=DAYS), end=today, granularity="month"
        ),
        "breakdown by model (30 days)": lambda: selectors.cost_breakdown(
            organization=org, by="model", start=period, end=today
        ),
        "breakdown by user (30 days)": lambda: selectors.cost_breakdown(
            organization=org, by="user", start=period, end=today
        ),
        "recent events (dashboard, 20)": lambda: selectors.events_recent(organization=org),
        "CSV export, first 1,000 of 30 days": lambda: list(
            selectors.events_in_range(organization=org, start=period, end=today).order_by("created_at")[:1000]
        ),
        "staff: fallback-priced models (30 days)": lambda: unpriced_models(start=now - timedelta(days=30), end=now),
    }


def _ingest(org: Organization, users: list[User], rng: random.Random) -> tuple[float, float]:
    """Return (record_event events/s over 300 events, record_events events/s over 20 batches of 1,000)."""
    tracker = UsageTracker()

    def event() -> dict:
        provider, model, *_ = rng.choice(MODELS)
        return {
            "event_type": "agent_call",
            "provider": provider,
            "model": model,
            "tokens_in": rng.randint(100, 20_000),
            "tokens_out": rng.randint(10, 4_000),
            "user_id": str(rng.choice(users).id),
        }

    singles = [event() for _ in range(300)]
    started = time.perf_counter()
    for e in singles:
        tracker.record_event(
            org.id, e["user_id"], e["event_type"], e["provider"], e["model"], e["tokens_in"], e["tokens_out"]
        )
    single = len(singles) / (time.perf_counter() - started)
    batches = [[{**event(), "org_id": str(org.id)} for _ in range(1000)] for _ in range(20)]
    started = time.perf_counter()
    for batch in batches:
        tracker.record_events(batch)
    return single, 20_000 / (time.perf_counter() - started)


def _sizes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "WHERE relname = 'usage_events' OR oid IN (SELECT indexrelid FROM pg_index "
            "WHERE indrelid = 'usage_events'::regclass) ORDER BY pg_relation_size(c.oid) DESC"
        )
        return cursor.fetchall()


def main() -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    print(f"PostgreSQL {connection.pg_version}, shared_buffers {buffers}; load average {os.getloadavg()[0]:.2f}")
    big, big_users = _org("big")
    small, small_users = _org("small")
    _generate(small, small_users, 1000)
    usage_aggregates_rebuild(organization_id=small.id)
    rng = random.Random(7)
    empty_single, empty_batch = _ingest(*_org("empty"), rng)
    print(f"ingest into an empty table: record_event {empty_single:,.0f}/s, record_events {empty_batch:,.0f}/s")
    small_reads = {name: _latency(fn, ARGS.repeat) for name, fn in _reads(small).items()}
    have = 0
    for target in (int(step) for step in ARGS.steps.split(",")):
        print(f"\n== {target:,} events in one organization ==")
        seconds = _generate(big, big_users, target - have)
        print(f"bulk load: {target - have:,} events in {seconds:.0f} s ({(target - have) / seconds:,.0f}/s)")
        have = target
        started = time.perf_counter()
        usage_aggregates_rebuild(organization_id=big.id)
        print(f"rollups rebuilt from the events in {time.perf_counter() - started:.0f} s")
        # A table that grew over months has been vacuumed and checkpointed along the way: settle the bulk load's
        # aftermath (autovacuum of millions of new rows, a checkpoint of their pages) before timing anything.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) usage_events")
            cursor.execute("ANALYZE")
            cursor.execute("CHECKPOINT")
        print(f"VACUUM, ANALYZE and CHECKPOINT after the load: {time.perf_counter() - started:.0f} s")
        print(f"reads, median / p95 ms: organization with {have:,} events vs one with 1,000 [target < 20 ms]")
        for name, fn in _reads(big).items():
            median, p95 = _latency(fn, ARGS.repeat)
            base = small_reads[name][0]
            print(f"  {name:42s} {median:7.2f} / {p95:7.2f}   vs {base:6.2f}   ratio {median / base:5.2f}x")
        single, batch = _ingest(big, big_users, rng)
        print(
            f"ingest at this size: record_event {single:,.0f}/s ({single / empty_single:.2f} of empty), "
            f"record_events {batch:,.0f}/s ({batch / empty_batch:.2f} of empty)"
        )
        print("sizes: " + ", ".join(f"{name} {size}" for name, size in _sizes()))
    oldest = timezone.now() - timedelta(days=DAYS - 30)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM usage_events WHERE org_id = %s AND created_at < %s", [big.id, oldest])
        deleted = cursor.rowcount
    print(
        f"\nretention without partitions: DELETE of the oldest month, {deleted:,} events, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
