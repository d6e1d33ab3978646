"""Start the current usage period for every organization still in an older one (cron-safe, idempotent)."""

from django.core.management.base import BaseCommand

from usage.services.periods import organization_periods_rollover


class Command(BaseCommand):
    help = "Roll organizations over to the current monthly usage period (debates used back to 0). Safe to rerun."

    def handle(self, *args, **options) -> None:
        moved = organization_periods_rollover()
        self.stdout.write(self.style.SUCCESS(f"Rolled {moved} organization(s) over to the current period."))
