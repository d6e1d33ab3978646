"""The project's own tables: the health probe, and the audit log of what staff do in the back office."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class HealthProbe(models.Model):
    """A row /api/health writes to prove the database still takes writes."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "aragora_health_probe"

    def __str__(self) -> str:
        return f"written {self.written_at:%Y-%m-%d %H:%M:%S}"


class AuditAction(models.TextChoices):
    TIER_OVERRIDE = "tier_override", "Tier overridden"
    DEBATES_RESET = "debates_reset", "Period's debates reset"
    TOKENS_REVOKED = "tokens_revoked", "All tokens revoked"
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"
    USER_DEACTIVATED = "user_deactivated", "User deactivated"
    MEMBER_CHANGED = "member_changed", "Member changed"
    BILLING_RESYNCED = "billing_resynced", "Billing re-synced from Stripe"
    GRACE_EXPIRED = "grace_expired", "Lapsed grace period applied"
    NOTIFICATION_RETRIED = "notification_retried", "Notification retried"


# Changes of what a customer pays for or may use need a stated reason.
REASON_REQUIRED = frozenset({AuditAction.TIER_OVERRIDE, AuditAction.DEBATES_RESET})


class AuditEntry(models.Model):
    """One thing a member of staff did: who, what, to what, when and why. Written once, never changed."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Kept as text so the entry still names its author after the account is deleted.
    actor_email = models.CharField(max_length=254, editable=False)
    action = models.CharField(max_length=32, choices=AuditAction.choices, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        editable=False,
    )
    target = models.CharField(max_length=300, help_text="What was acted on, as it was named then.", editable=False)
    target_type = models.CharField(max_length=100, blank=True, editable=False, help_text='e.g. "accounts.user".')
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    reason = models.TextField(blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, editable=False)

    class Meta:
        db_table = "aragora_audit_entries"
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["organization", "created_at"], name="audit_org_time_idx"),
            models.Index(fields=["created_at"], name="audit_time_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=AuditAction.values), name="audit_action_valid"),
            models.CheckConstraint(
                condition=~Q(action__in=sorted(REASON_REQUIRED)) | ~Q(reason=""), name="audit_reason_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target}"
