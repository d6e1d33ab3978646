"""Apply Stripe events whose webhook delivery failed (Stripe lists them with delivery_success=false)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from billing.stripe_client import StripeConfigError
from billing.webhooks import stripe_events_reconcile


class Command(BaseCommand):
    help = "List recent Stripe events not delivered to this service and process the ones never applied."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=3, help="How far back to look (Stripe keeps 30 days).")

    def handle(self, *args, **options):
        try:
            counts = stripe_events_reconcile(since=timedelta(days=options["days"]))
        except StripeConfigError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Events listed: {counts['listed']}; applied: {counts['applied']}; "
            f"already applied: {counts['already']}; failed: {counts['failed']}."
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} event(s) failed; see the log and the webhook event triggers.")
