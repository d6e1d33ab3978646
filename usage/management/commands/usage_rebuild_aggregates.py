"""Recompute the usage rollups (monthly, daily, per model, per user) from the raw events."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from usage.services.periods import usage_aggregates_rebuild

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Rebuild usage_monthly and the daily rollups from usage_events (repair), one organization-month at a time."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", help="Only this organization (UUID).")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, **options) -> None:
        org_id = None
        if options["organization"]:
            try:
                org_id = uuid.UUID(options["organization"])
            except ValueError as exc:
                raise CommandError("--organization must be a UUID.") from exc
        progress = None if options["no_progress"] else self._progress
        events = usage_aggregates_rebuild(organization_id=org_id, progress=progress)
        if progress is not None:
            self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Rebuilt the rollups of {events} event(s)."))

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stdout.write(f"\r[{bar}] {done}/{total} organization-months {100 * done // max(total, 1)}%", ending="")
        self.stdout.flush()
