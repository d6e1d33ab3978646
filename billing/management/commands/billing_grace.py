"""Expire grace periods that have run out and send the reminders that are due. Safe to run from cron at any time."""

from django.core.management.base import BaseCommand

from billing.services.grace import organizations_grace_sweep


class Command(BaseCommand):
    help = "Downgrade organizations whose payment grace period has ended; remind those whose grace ends soon."

    def handle(self, *args, **options):
        counts = organizations_grace_sweep()
        self.stdout.write(f"Grace periods expired: {counts['expired']}; reminders sent: {counts['reminded']}.")
