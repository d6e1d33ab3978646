"""Where the time of one HTTP batch ingest goes: POST /api/usage/events with 1,000 events, profiled.

The request goes through the real WSGI application in-process (Django's test client: no socket, so the
profile holds only the server's work), authenticated with a bearer token from POST /api/auth/register, on a
fresh SQLite database (or PostgreSQL with DATABASE_URL). After warm-up requests, --requests requests run under
cProfile; the script prints the median wall time per request and the profile's own time (tottime) grouped by
what the code does, then the top functions.

It uses the public HTTP API only, so the same script can profile an earlier version of the code:

    .venv/bin/python bench/profile_ingest.py
    git worktree add /tmp/aragora-before <commit> && cp bench/profile_ingest.py /tmp/aragora-before/bench/
    .venv/bin/python /tmp/aragora-before/bench/profile_ingest.py
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["ARAGORA_DATA_DIR"] = tempfile.mkdtemp(prefix="aragora-profile-ingest-")
os.environ.setdefault("DJSTRIPE_TEST_MIGRATIONS", "1")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ARAGORA_JWT_SECRET", "bench-jwt-secret-that-is-long-enough-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aragora_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DEBUG"] = "0"
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["ARAGORA_TLS"] = "0"  # plain HTTP in-process, as behind a TLS-terminating proxy

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

MODELS = [
    ("anthropic", "claude-sonnet-4"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("deepseek", "deepseek-v3"),
    ("google", "gemini-pro"),
]

# (label, substrings of a function's file path or name); the first match wins, in this order
BUCKETS = [
    ("database driver (SQL execution, COPY, commit)", ("sqlite3", "psycopg", "{method 'execute", "executemany")),
    ("JSON parse and render", ("json/", "{built-in method _json", "renderers.py", "parsers.py")),
    ("event validation", ("usage/validation", "usage/event_json", "usage/serializers", "rest_framework/fields")),
    ("pricing and cost arithmetic", ("usage/pricing", "usage/money", "decimal")),
    ("storage and rollups (our SQL building)", ("usage/storage", "usage/rollups", "aragora_site/db")),
    ("usage services (recording, quota, budgets)", ("usage/services", "usage/tracker")),
    ("authentication", ("accounts/", "jwt", "hmac", "hashlib")),
    ("DRF serializers", ("rest_framework/serializers",)),
    ("Django ORM (query building)", ("django/db/models", "django/db/backends", "django/db/utils")),
    ("Django and DRF request handling", ("django/", "rest_framework/")),
]


def _bucket(key: tuple[str, int, str]) -> str:
    where = f"{key[0]}:{key[2]}"
    for label, needles in BUCKETS:
        if any(n in where for n in needles):
            return label
    return "other (Python built-ins, uuid, datetime, ...)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="profiled requests (after 3 warm-up requests)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    client = Client()
    res = client.post(
        "/api/auth/register",
        data=json.dumps({"email": "bench@example.com", "password": "a-long-bench-password-1", "name": "Bench"}),
        content_type="application/json",
    )
    assert res.status_code == 201, res.content
    token = res.json()["access_token"]
    me = client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    org_id = (me.get("organization") or {}).get("id") or me.get("org_id")
    from accounts.models import Organization

    Organization.objects.filter(id=org_id).update(tier="enterprise")  # API access and no debate quota in the way

    rng = random.Random(7)

    def body() -> str:
        events = []
        for _ in range(1000):
            provider, model = rng.choice(MODELS)
            events.append(
                {
                    "event_type": "agent_call",
                    "provider": provider,
                    "model": model,
                    "tokens_in": rng.randint(100, 20_000),
                    "tokens_out": rng.randint(10, 4_000),
                }
            )
        return json.dumps({"events": events})

    def post(payload: str) -> float:
        started = time.perf_counter()
        res = client.post(
            "/api/usage/events", data=payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        elapsed = time.perf_counter() - started
        assert res.status_code in (200, 201), res.content[:500]
        return elapsed

    for _ in range(3):
        post(body())
    bodies = [body() for _ in range(args.requests)]
    gc.collect()  # start from a clean heap, so collections triggered by earlier allocations do not land here
    profiler, times = cProfile.Profile(), []
    for payload in bodies:
        profiler.enable()
        times.append(post(payload))
        profiler.disable()

    plain = [post(body()) for _ in range(args.requests)]  # the same work without the profiler's overhead
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())
    by_bucket: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_bucket[_bucket(key)] = by_bucket.get(_bucket(key), 0.0) + tottime

    print(f"code: {ROOT}")
    print(f"database: {django.db.connection.vendor}")
    print(f"1,000 events per request: median {statistics.median(plain) * 1000:.0f} ms without the profiler")
    print(f"  = {1000 / statistics.median(plain):,.0f} events/s on one process")
    print(f"under cProfile: median {statistics.median(times) * 1000:.0f} ms; own time by what the code does:")
    for label, seconds in sorted(by_bucket.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / total * 100:5.1f} %  {seconds / args.requests * 1000:7.1f} ms/request  {label}")
    print(f"top {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
