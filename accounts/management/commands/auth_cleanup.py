"""Drop expired revocations, refresh-token records and old login failures (run daily from cron)."""

from django.core.management.base import BaseCommand

from accounts.services import auth_records_cleanup


class Command(BaseCommand):
    help = "Delete revocation and login-throttling rows that can no longer matter."

    def handle(self, *args, **options) -> None:
        removed = auth_records_cleanup()
        self.stdout.write(", ".join(f"{name}: {count}" for name, count in removed.items()))
