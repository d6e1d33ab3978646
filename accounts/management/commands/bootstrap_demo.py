"""Create a demo organization and a staff user (idempotent); print how to sign in."""

import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Organization, Role, User, generate_slug
from billing.tiers import SubscriptionTier


class Command(BaseCommand):
    help = "Create the demo organization and a staff user (ARAGORA_ADMIN_EMAIL / ARAGORA_ADMIN_PASSWORD)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        email = os.environ.get("ARAGORA_ADMIN_EMAIL", "admin@example.com").lower()
        password = os.environ.get("ARAGORA_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        org = Organization.objects.filter(slug="demo").first()
        if org is None:
            org = Organization.objects.create(
                name="Demo", slug=generate_slug("Demo"), tier=SubscriptionTier.PROFESSIONAL
            )
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_superuser(email=email, password=password, name="Demo admin")
        elif os.environ.get("ARAGORA_ADMIN_PASSWORD"):
            user.set_password(password)
        else:
            password = "(unchanged; set ARAGORA_ADMIN_PASSWORD to reset it)"
        user.organization, user.role, user.is_staff, user.is_superuser = org, Role.ADMIN, True, True
        user.save()
        if org.owner_id is None:
            org.owner = user
            org.save(update_fields=["owner"])
        self.stdout.write(
            self.style.SUCCESS(f"Staff user: {email}  password: {password}  organization: {org.name} ({org.tier})")
        )
