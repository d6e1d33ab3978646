"""Deliver the billing notifications whose next attempt is due (failed attempts back off exponentially)."""

from django.core.management.base import BaseCommand

from billing.notifications import notifications_deliver_due


class Command(BaseCommand):
    help = "Retry due billing notifications (e-mail and webhook)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="At most this many notifications per run.")

    def handle(self, *args, **options):
        counts = notifications_deliver_due(limit=options["limit"])
        self.stdout.write(
            f"Notifications sent: {counts['sent']}; still pending: {counts['pending']}; given up: {counts['failed']}."
        )
