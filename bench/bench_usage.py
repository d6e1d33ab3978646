"""Usage-metering benchmark, in one run per back end (SQLite by default, PostgreSQL with --postgres):

1. in-process `UsageTracker.record_event` events/s (one transaction per event), against raw `sqlite3` INSERT +
   COMMIT of the same kind of rows one per transaction (the physical floor), in alternated rounds, as a ratio
   per round and its median; and the statements that
   record_event sends (captured with their parameters) replayed by bare `sqlite3`, to split its time between
   the database and Python;
2. `UsageTracker.record_events` (batches of 1000) events/s, against a raw `sqlite3` `executemany` of the same
   rows into the same `usage_events` table, as a ratio;
2b. batch ingest with the cost dimensions (cache reads and writes, reasoning, long-context models) and with
   provider usage blocks, side by side with the same events without them (interleaved batches), as ratios;
3. HTTP batch ingestion events/s: POST /api/usage/events with 1000 events per request from 4 concurrent
   clients with an API key, to gunicorn with 2 workers (p50 latency too);
4. summary / timeseries / breakdown latency for an organization with 1,000 events and one with 1,000,000
   (rows generated with bulk SQL, rollups built by the repair command's service): flat means rollups, not scans.

Runs on a fresh SQLite database in a temporary ARAGORA_DATA_DIR, with its own secrets.

    .venv/bin/python bench/bench_usage.py            # full run (1M events: a few minutes)
    .venv/bin/python bench/bench_usage.py --quick    # small run (100k events)
    .venv/bin/python bench/bench_usage.py --single-only   # row 1 alone: record_event against raw sqlite3
    .venv/bin/python bench/bench_usage.py --postgres postgres://postgres@127.0.0.1:5432/bench_usage
        # rows 1 and 3 on PostgreSQL (a database of its own: it is dropped and created); raw and reads are
        # SQLite-only here, PostgreSQL reads at scale are bench/bench_scale_postgres.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = tempfile.mkdtemp(prefix="aragora-bench-usage-")
os.environ["ARAGORA_DATA_DIR"] = DATA_DIR
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJSTRIPE_TEST_MIGRATIONS", "1")  # dj-stripe's tables in one step (see settings)
POSTGRES = sys.argv[sys.argv.index("--postgres") + 1] if "--postgres" in sys.argv else ""
if POSTGRES:
    from bench.postgres import recreate_database

    recreate_database(POSTGRES)
    os.environ["DATABASE_URL"] = POSTGRES
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ARAGORA_JWT_SECRET", "bench-jwt-secret-that-is-long-enough-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aragora_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DEBUG"] = "0"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization, Role, User  # noqa: E402
from aragora_site.ids import uuid7  # noqa: E402
from billing.tiers import SubscriptionTier  # noqa: E402
from usage import selectors  # noqa: E402
from usage.services.periods import usage_aggregates_rebuild  # noqa: E402
from usage.tracker import UsageTracker  # noqa: E402

MODELS = [
    ("anthropic", "claude-sonnet-4", 3, 15),
    ("anthropic", "claude-sonnet-4-5", 3, 15),
    ("openai", "gpt-5", 1.25, 10),
    ("anthropic", "claude-opus-4", 15, 75),
    ("openai", "gpt-4o", 2.5, 10),
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("deepseek", "deepseek-v3", 0.14, 0.28),
    ("google", "gemini-pro", 1.25, 5),
]
BATCH = 1000
WARMUP = 200  # events recorded before the single-event timings start


def _org(name: str, users: int = 3) -> tuple[Organization, list[User]]:
    org = Organization.objects.create(name=name, slug=name.lower(), tier=SubscriptionTier.ENTERPRISE)
    members = [
        User.objects.create_user(email=f"u{i}@{name.lower()}.test", organization=org, role=Role.ADMIN)
        for i in range(users)
    ]
    return org, members


def _event(org: Organization, users: list[User], rng: random.Random, *, batch_dict: bool = False) -> dict:
    provider, model, *_ = rng.choice(MODELS)
    event = {
        "event_type": rng.choice(["agent_call", "agent_call", "api_call"]),
        "provider": provider,
        "model": model,
        "tokens_in": rng.randint(100, 20_000),
        "tokens_out": rng.randint(10, 4_000),
        "user_id": str(rng.choice(users).id),
    }
    if batch_dict:
        event["org_id"] = str(org.id)
    return event


def _record_one(tracker: UsageTracker, org: Organization, e: dict) -> None:
    tracker.record_event(
        org.id, e["user_id"], e["event_type"], e["provider"], e["model"], e["tokens_in"], e["tokens_out"]
    )


def bench_single(count: int, rounds: int, *, raw: bool) -> list[tuple[float, float | None]]:
    """record_event, one transaction per event, alternated round by round with raw sqlite3 INSERT + COMMIT of the
    same kind of rows into the same table (the physical floor): [(record_event/s, raw/s or None), ...]."""
    org, users = _org("single")
    tracker, rng = UsageTracker(), random.Random(1)
    events = [_event(org, users, rng) for _ in range(count + WARMUP)]
    for e in events[:WARMUP]:  # a worker's first events load the price table and its caches: not measured
        _record_one(tracker, org, e)
    events = events[WARMUP:]
    db, rows = None, []
    if raw:
        raw_org, raw_users = _org("rawsingle")
        rows = list(
            _raw_rows(raw_org.id.hex, [u.id.hex for u in raw_users], count, random.Random(6), timezone.now(), 1)
        )
        db = _sqlite()
    step, results = count // rounds, []
    for r in range(rounds):
        started = time.perf_counter()
        for e in events[r * step : (r + 1) * step]:
            _record_one(tracker, org, e)
        rate = step / (time.perf_counter() - started)
        raw_rate = None
        if db is not None:
            started = time.perf_counter()
            for row in rows[r * step : (r + 1) * step]:
                db.execute("BEGIN IMMEDIATE")
                db.execute(RAW_INSERT, row)
                db.execute("COMMIT")
            raw_rate = step / (time.perf_counter() - started)
        results.append((rate, raw_rate))
    if db is not None:
        db.close()
    return results


def bench_record_events(batches: int) -> float:
    org, users = _org("batch")
    tracker, rng = UsageTracker(), random.Random(2)
    payloads = [[_event(org, users, rng, batch_dict=True) for _ in range(BATCH)] for _ in range(batches)]
    started = time.perf_counter()
    for payload in payloads:
        tracker.record_events(payload)
    return batches * BATCH / (time.perf_counter() - started)


def _with_dimensions(event: dict, rng: random.Random, *, as_block: bool) -> dict:
    """Return the event with cache and reasoning parts, or with the provider's usage block carrying them."""
    t_in, t_out = event["tokens_in"], event["tokens_out"]
    read, write, reasoning = t_in * rng.randint(0, 8) // 10, t_in // 10, t_out // 2
    if not as_block:
        return {**event, "cache_read_tokens": read, "cache_write_tokens": write, "reasoning_tokens": reasoning}
    plain = {k: v for k, v in event.items() if k not in ("tokens_in", "tokens_out")}
    if event["provider"] == "anthropic":
        block = {
            "input_tokens": t_in - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "output_tokens": t_out,
        }
    else:
        block = {
            "prompt_tokens": t_in,
            "completion_tokens": t_out,
            "prompt_tokens_details": {"cached_tokens": read},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
    return {**plain, "usage": block}


def bench_dimensions(batches: int, rounds: int = 3) -> dict[str, tuple[float, float]]:
    """Return, per variant of the same events (plain, with parts, with usage blocks; batches interleaved), its
    events/s of batch ingest and the median over batches of plain's time ÷ its time for the same batch.

    The median of paired ratios is the steadier figure: a checkpoint or another process's burst lands on one
    batch of one variant and moves the totals, not the median.
    """
    org, users = _org("dimensions")
    tracker, rng = UsageTracker(), random.Random(5)
    plain = [[_event(org, users, rng, batch_dict=True) for _ in range(BATCH)] for _ in range(batches)]
    variants = {
        "plain": plain,
        "parts": [[_with_dimensions(e, rng, as_block=False) for e in batch] for batch in plain],
        "usage blocks": [[_with_dimensions(e, rng, as_block=True) for e in batch] for batch in plain],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for _ in range(rounds):
        for index in range(batches):
            # the first variant of a batch creates its rollup rows and the others update them: rotate who goes first
            for name in names[index % 3 :] + names[: index % 3]:
                payloads = variants[name]
                started = time.perf_counter()
                tracker.record_events(payloads[index])
                times[name].append(time.perf_counter() - started)
    return {
        name: (
            len(spent) * BATCH / sum(spent),
            statistics.median(base / own for base, own in zip(times["plain"], spent, strict=True)),
        )
        for name, spent in times.items()
    }


def _raw_rows(org_hex: str, users_hex: list[str], count: int, rng: random.Random, start: datetime, days: int):
    """Rows for usage_events exactly as Django stores them on SQLite (cost: integer 1e-10 USD)."""
    span = days * 86400
    for _ in range(count):
        provider, model, price_in, price_out = rng.choice(MODELS)
        t_in, t_out = rng.randint(100, 20_000), rng.randint(10, 4_000)
        cost = round((t_in * price_in + t_out * price_out) * 10_000)  # USD/1M tokens -> 1e-10 USD units
        moment = start + timedelta(seconds=rng.randrange(span))
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        yield (
            uuid7().hex,
            rng.choice(["agent_call", "api_call"]),
            provider,
            model,
            t_in,
            t_out,
            cost,
            0,
            "{}",
            "",
            "",
            stamp,
            stamp,
            org_hex,
            None,
            rng.choice(users_hex),
        )


RAW_INSERT = (
    "INSERT INTO usage_events (id, event_type, provider, model, tokens_in, tokens_out, cost_usd, unpriced, metadata, "
    "idempotency_key, fingerprint, created_at, recorded_at, org_id, price_id, user_id, cache_read_tokens, "
    "cache_write_tokens, reasoning_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)"
)


def _sqlite() -> sqlite3.Connection:
    db = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class _Recorder:
    """Stands in for Django's sqlite3 connection: every statement and COMMIT is logged (with its parameters)."""

    def __init__(self, real: sqlite3.Connection, log: list) -> None:
        self._real, self._log = real, log

    def cursor(self, *args, **kwargs):
        return _RecordingCursor(self._real.cursor(*args, **kwargs), self._log)

    def execute(self, sql: str, params=None):  # the backend's BEGIN
        return self.cursor().execute(sql, params)

    def commit(self) -> None:
        self._log.append(("COMMIT", None))
        self._real.commit()

    def __getattr__(self, name: str):
        return getattr(self._real, name)


class _RecordingCursor:
    def __init__(self, real, log: list) -> None:
        self._real, self._log = real, log

    def _sql(self, sql: str, params) -> str:
        # Django's own cursor rewrites its %s placeholders on the way; the driver cursor's SQL is already in ?-style
        convert = getattr(self._real, "convert_query", None)
        return convert(sql) if convert is not None and params is not None else sql

    def execute(self, sql: str, params=None):
        self._log.append((self._sql(sql, params), None if params is None else tuple(params)))
        return self._real.execute(sql) if params is None else self._real.execute(sql, params)

    def executemany(self, sql: str, param_list):
        param_list = [tuple(p) for p in param_list]
        self._log.append((self._sql(sql, param_list), param_list, "many"))
        return self._real.executemany(sql, param_list)

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def __iter__(self):
        return iter(self._real)


def bench_statement_floor(count: int) -> float:
    """The statements record_event sends, replayed through bare sqlite3: what they cost with no Python around them.

    record_event runs `count` events on a connection that logs every statement with its parameters, on a
    database copied just before; each event's transaction is then replayed, statement for statement and with
    the same parameters (so sqlite3's statement cache works as it does for record_event), on the copy.
    """
    from django.db import connection

    org, users = _org("floor")
    connection.ensure_connection()
    copy_path = os.path.join(DATA_DIR, "floor.sqlite3")
    with sqlite3.connect(copy_path) as copy:
        connection.connection.backup(copy)
    tracker, rng = UsageTracker(), random.Random(8)
    events = [_event(org, users, rng) for _ in range(count)]
    log: list = []
    real = connection.connection
    connection.connection = _Recorder(real, log)
    try:
        for e in events:
            tracker.record_event(
                org.id, e["user_id"], e["event_type"], e["provider"], e["model"], e["tokens_in"], e["tokens_out"]
            )
    finally:
        connection.connection = real
    transactions, current = [], None
    for entry in log:
        if entry[0].startswith("BEGIN"):
            current = [entry]
        elif current is not None:
            current.append(entry)
            if entry[0] == "COMMIT":
                transactions.append(current)
                current = None
    assert len(transactions) == count, f"expected one transaction per event, saw {len(transactions)}"
    db = sqlite3.connect(copy_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    for statements in transactions:
        for sql, params, *many in statements:
            if many:
                db.executemany(sql, params)
            elif params is None:
                db.execute(sql)
            else:
                db.execute(sql, params)
    elapsed = time.perf_counter() - started
    db.close()
    per_event = sum(len(t) for t in transactions) / count
    print(f"  (record_event's statements per event, BEGIN and COMMIT included: {per_event:.1f})")
    return count / elapsed


def bench_raw_executemany(batches: int) -> float:
    org, users = _org("raw")
    rng = random.Random(2)
    rows = [
        list(_raw_rows(org.id.hex, [u.id.hex for u in users], BATCH, rng, timezone.now(), 1)) for _ in range(batches)
    ]
    db = _sqlite()
    started = time.perf_counter()
    for batch in rows:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(RAW_INSERT, batch)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return batches * BATCH / elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLIENTS = 4


def bench_http(batches: int) -> tuple[float, float]:
    """Return (events/s, p50 ms per request) of batch ingest over HTTP: CLIENTS clients, gunicorn 2 workers."""
    import requests

    org, users = _org("http")
    key = users[0].generate_api_key()
    port = _free_port()
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "ARAGORA_TLS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/usage/events"
        deadline = time.time() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.25)
        rng = random.Random(3)
        bodies = [json.dumps({"events": [_event(org, users, rng) for _ in range(BATCH)]}) for _ in range(batches)]
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        sessions = [requests.Session() for _ in range(CLIENTS)]
        for session in sessions:  # warm every worker and code path
            session.post(url, data=json.dumps({"event_type": "api_call"}), headers=headers, timeout=60)
        latencies: list[float] = []

        def post(index: int) -> None:
            session = sessions[index % CLIENTS]
            sent = time.perf_counter()
            res = session.post(url, data=bodies[index], headers=headers, timeout=120)
            latencies.append((time.perf_counter() - sent) * 1000)
            if res.status_code != 201:
                raise RuntimeError(f"HTTP {res.status_code}: {res.text[:300]}")

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(post, range(batches)))
        return batches * BATCH / (time.perf_counter() - started), statistics.median(latencies)
    finally:
        server.terminate()
        server.wait(10)


def _fill(org: Organization, users: list[User], count: int, days: int) -> float:
    """Insert `count` events with bulk SQL over the last `days` days, then build the rollups from them."""
    rng = random.Random(4)
    start = timezone.now() - timedelta(days=days - 1)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    db = _sqlite()
    db.execute("BEGIN IMMEDIATE")
    rows = _raw_rows(org.id.hex, [u.id.hex for u in users], count, rng, start, days)
    while chunk := [row for _, row in zip(range(50_000), rows, strict=False)]:
        db.executemany(RAW_INSERT, chunk)
    db.execute("COMMIT")
    db.close()
    started = time.perf_counter()
    usage_aggregates_rebuild(organization_id=org.id)
    return time.perf_counter() - started


def _latency(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bench_reads(big_count: int, days: int, repeat: int) -> dict:
    results = {}
    for label, count in (("1k", 1000), ("big", big_count)):
        org, users = _org(f"reads{label}", users=5)
        rebuild = _fill(org, users, count, days)
        today = timezone.localdate()
        period = today - timedelta(days=29)
        # every lambda binds this iteration's values as defaults
        reads = {
            "usage summary (30 days)": lambda org=org, period=period, today=today: selectors.usage_summary(
                organization_id=org.pk, start=period, end=today
            ),
            "cost summary (period)": lambda org=org: selectors.cost_summary(organization=org),
            "timeseries (30 days, daily)": lambda org=org, period=period, today=today: selectors.cost_timeseries(
                organization_id=org.pk, start=period, end=today
            ),
            f"timeseries ({days} days, monthly)": lambda org=org, today=today: selectors.cost_timeseries(
                organization_id=org.pk, start=today - timedelta(days=days), end=today, granularity="month"
            ),
            "breakdown by model (30 days)": lambda org=org, period=period, today=today: selectors.cost_breakdown(
                organization=org, by="model", start=period, end=today
            ),
            "breakdown by user (30 days)": lambda org=org, period=period, today=today: selectors.cost_breakdown(
                organization=org, by="user", start=period, end=today
            ),
        }
        results[label] = {
            "count": count,
            "rebuild_s": rebuild,
            "reads": {name: _latency(fn, repeat) for name, fn in reads.items()},
        }
    return results


def _print_dimensions(batches: int) -> None:
    rates = bench_dimensions(batches)
    print(f"batch ingest, same events interleaved ({batches} batches x 3 rounds):")
    for name, (rate, paired) in rates.items():
        print(
            f"  {name:13s} {rate:,.0f} events/s  ratio to plain {rate / rates['plain'][0]:.3f}, "
            f"median of the batches' ratios {paired:.3f}"
        )
    print("  [target: parts and usage blocks within 10 % of plain]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small run: fewer events, 100k instead of 1M")
    parser.add_argument("--postgres", metavar="URL", help="run rows 1 and 3 on this PostgreSQL database instead")
    parser.add_argument("--single-only", action="store_true", help="row 1 alone (record_event against raw), then stop")
    parser.add_argument(
        "--dimensions-only", action="store_true", help="batch ingest with parts and usage blocks alone, then stop"
    )
    args = parser.parse_args()
    single, batches, big, repeat = (2000, 5, 100_000, 20) if args.quick else (5000, 20, 1_000_000, 50)
    http_batches = 24 if args.quick else 96
    call_command("migrate", verbosity=0)
    from django.db import connection

    print(f"{connection.vendor}, {'quick' if args.quick else 'full'} run; load average {os.getloadavg()[0]:.2f}")
    if args.dimensions_only:
        _print_dimensions(batches)
        return
    rounds = 4
    single_rounds = bench_single(single, rounds, raw=not args.postgres)
    rate_single = statistics.median(rate for rate, _ in single_rounds)
    print(
        f"record_event (1 event per transaction, {single} events in {rounds} rounds): median {rate_single:,.0f} "
        f"events/s  [target >= 2,000]"
    )
    if not args.postgres:
        print("raw sqlite3 INSERT + COMMIT per event, same kind of rows, each round right after record_event's:")
        for i, (rate, raw) in enumerate(single_rounds, 1):
            print(f"  round {i}: record_event {rate:,.0f}/s, raw {raw:,.0f}/s, record_event / raw = {rate / raw:.1%}")
        raw_single = statistics.median(raw for _, raw in single_rounds)
        ratio = statistics.median(rate / raw for rate, raw in single_rounds)
        print(f"  median record_event / raw = {ratio:.1%}  [target >= 25%]")
        floor = bench_statement_floor(single)
        print(f"record_event's own statements replayed by bare sqlite3: {floor:,.0f} events/s")
        print(f"  record_event / its statements = {rate_single / floor:.1%} (the rest is Python)")
        print(f"  its statements / raw = {floor / raw_single:.1%} (the most record_event / raw could reach)")
    if args.single_only:
        return
    rate_batch = bench_record_events(batches)
    print(f"record_events (batches of {BATCH}, {batches} batches):    {rate_batch:,.0f} events/s")
    if not args.postgres:
        rate_raw = bench_raw_executemany(batches)
        print(f"raw sqlite3 executemany, same rows and table:        {rate_raw:,.0f} events/s")
        print(f"  batch / raw = {rate_batch / rate_raw:.1%}")
        _print_dimensions(batches)
    rate_http, p50 = bench_http(http_batches)
    print(
        f"HTTP POST /api/usage/events ({CLIENTS} clients, gunicorn 2 workers, {BATCH}/request, API key): "
        f"{rate_http:,.0f} events/s, p50 {p50:.0f} ms  [target >= 15,000]"
    )
    if args.postgres:
        return
    reads = bench_reads(big, days=90, repeat=repeat)
    small, large = reads["1k"], reads["big"]
    print(
        f"reads, median / p95 ms: {small['count']:,} events vs {large['count']:,} events "
        f"(rollups rebuilt from the {large['count']:,} events in {large['rebuild_s']:.1f} s)  [target < 20 ms]"
    )
    for name, (median_small, p95_small) in small["reads"].items():
        median_big, p95_big = large["reads"][name]
        print(
            f"  {name:34s} {median_small:6.2f} / {p95_small:6.2f}   vs  {median_big:6.2f} / {p95_big:6.2f}"
            f"   ratio {median_big / median_small:4.2f}x"
        )


if __name__ == "__main__":
    main()
