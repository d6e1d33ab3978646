"""Forget billing Idempotency-Keys older than a week (run daily from cron)."""

from django.core.management.base import BaseCommand

from billing.services.self_service import IDEMPOTENCY_KEY_DAYS, idempotency_records_prune


class Command(BaseCommand):
    help = "Delete Idempotency-Key records of billing requests older than --days (a key older than that is new)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=IDEMPOTENCY_KEY_DAYS)

    def handle(self, *args, **options) -> None:
        if options["days"] < 1:
            self.stderr.write("--days must be at least 1 (Stripe keeps a key for 24 hours).")
            raise SystemExit(2)
        removed = idempotency_records_prune(days=options["days"])
        self.stdout.write(f"idempotency records removed: {removed}")
