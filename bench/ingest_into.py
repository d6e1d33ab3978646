"""Batch ingest into an existing PostgreSQL database, as it stands: one figure, for comparing code or table sizes.

Records batches of 1,000 events through `UsageTracker.record_events` into an organization of its own (created
on the first run), after two warm-up batches, and prints events/s. Nothing is dropped or created but that
organization and its events. Run it alternately against two databases (say the 10M-event one that
`bench_scale_postgres.py` leaves behind, and an empty one) and from two checkouts (the code before and after a
change, this script copied into the one before), one process per run:

    git worktree add /tmp/before REV && cp bench/ingest_into.py /tmp/before/bench/
    for i in 1 2 3 4; do for db in bench_scale bench_empty; do
      .venv/bin/python /tmp/before/bench/ingest_into.py --postgres postgres://postgres@127.0.0.1:5432/$db
      .venv/bin/python bench/ingest_into.py --postgres postgres://postgres@127.0.0.1:5432/$db
    done; done

The database must be migrated (`bench_scale_postgres.py` leaves its own so; for an empty one, `manage.py migrate`
with DATABASE_URL pointing at it).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--postgres", required=True, metavar="URL")
parser.add_argument("--batches", type=int, default=5, help="timed batches of 1,000 events")
ARGS = parser.parse_args()

os.environ.update(
    DATABASE_URL=ARGS.postgres,
    ARAGORA_DATA_DIR=tempfile.mkdtemp(prefix="aragora-bench-ingest-"),
    SECRET_KEY="bench-secret-key-" + "x" * 40,
    ARAGORA_JWT_SECRET="bench-jwt-secret-that-is-long-enough-0123456789",
    DJANGO_SETTINGS_MODULE="aragora_site.settings",
    LOG_LEVEL="WARNING",
    DEBUG="0",
)

import django  # noqa: E402

django.setup()

from accounts.models import Organization, Role, User  # noqa: E402
from billing.tiers import SubscriptionTier  # noqa: E402
from usage.tracker import UsageTracker  # noqa: E402

NAME = "ingest-probe"


def main() -> None:
    org = Organization.objects.filter(slug=NAME).first()
    if org is None:
        org = Organization.objects.create(name=NAME, slug=NAME, tier=SubscriptionTier.ENTERPRISE)
        for i in range(5):
            User.objects.create_user(email=f"u{i}@{NAME}.test", password=None, organization=org, role=Role.ADMIN)
    users = [str(pk) for pk in User.objects.filter(organization=org).values_list("id", flat=True)]
    tracker, rng = UsageTracker(), random.Random()

    def batch() -> list[dict]:
        return [
            {
                "org_id": str(org.id),
                "event_type": "agent_call",
                "provider": "openai",
                "model": "gpt-4o",
                "user_id": rng.choice(users),
                "tokens_in": rng.randint(100, 20_000),
                "tokens_out": rng.randint(10, 4_000),
            }
            for _ in range(1000)
        ]

    for _ in range(2):
        tracker.record_events(batch())
    batches = [batch() for _ in range(ARGS.batches)]
    started = time.perf_counter()
    for payload in batches:
        tracker.record_events(payload)
    rate = len(batches) * 1000 / (time.perf_counter() - started)
    print(f"{ARGS.postgres.rsplit('/', 1)[1]}: record_events {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
