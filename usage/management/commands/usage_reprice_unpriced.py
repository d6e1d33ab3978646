"""Reprice the events recorded at a fallback price once their model has a price (cron-safe, idempotent)."""

from django.core.management.base import BaseCommand

from usage.services.repricing import unpriced_events_reprice


class Command(BaseCommand):
    help = (
        "Price again every event flagged unpriced whose model now has a price in force at the event's time, "
        "and move the rollups by the exact difference. Safe to rerun."
    )

    def handle(self, *args, **options) -> None:
        repriced, left = unpriced_events_reprice()
        self.stdout.write(self.style.SUCCESS(f"Repriced {repriced} event(s); {left} still without a price."))
