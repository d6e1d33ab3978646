"""Organizations, users and their roles."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from accounts.managers import OrganizationQuerySet, UserManager, authorization_changed, forget_generations
from accounts.models.api_keys import DEFAULT_API_KEY_NAME, ApiKey
from billing.tiers import TIER_LIMITS, SubscriptionTier, TierLimits, tier_in_force
from usage.periods import current_period_start


def generate_slug(name: str) -> str:
    """Return a URL slug for `name` that no organization uses yet ("Acme Corp" -> "acme-corp")."""
    base = slugify(name)[:50].strip("-") or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    tier = models.CharField(max_length=20, choices=SubscriptionTier.choices, default=SubscriptionTier.FREE)
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_organizations"
    )
    debates_used = models.PositiveIntegerField(default=0)
    period_start = models.DateField(default=current_period_start, help_text="First day of the current usage period.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Billing state, written only by billing.services from Stripe's webhooks and the billing API.
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    stripe_price_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    subscription_status = models.CharField(max_length=32, blank=True, default="", editable=False)
    cancel_at_period_end = models.BooleanField(default=False, editable=False)
    current_period_end = models.DateTimeField(null=True, blank=True, editable=False)
    grace_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="End of the grace period after a failed payment."
    )
    grace_reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Creation time of the newest Stripe event applied: older events never roll the state back.
    stripe_subscription_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    stripe_payment_event_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["tier"], name="org_tier_idx"),
            models.Index(fields=["grace_until"], name="org_grace_until_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(tier__in=SubscriptionTier.values), name="org_tier_valid"),
            models.UniqueConstraint(
                fields=["stripe_customer_id"], condition=~Q(stripe_customer_id=""), name="org_stripe_customer_unique"
            ),
            models.UniqueConstraint(
                fields=["stripe_subscription_id"],
                condition=~Q(stripe_subscription_id=""),
                name="org_stripe_subscription_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        before = getattr(self, "_loaded_access", None)
        super().save(*args, **kwargs)
        if before is not None and before != self._access():
            authorization_changed()
        self._loaded_access = self._access()

    @classmethod
    def from_db(cls, db: str, field_names: Any, values: Any) -> Organization:
        organization = super().from_db(db, field_names, values)
        organization._loaded_access = organization._access()
        return organization

    def _access(self) -> tuple:
        """What API-key requests are authorized by (cached per worker): loaded fields only."""
        return tuple(self.__dict__.get(name) for name in ("tier", "grace_until"))

    @property
    def effective_tier(self) -> SubscriptionTier:
        """The tier in force: FREE once a grace period after a failed payment has run out."""
        return tier_in_force(self.tier, self.grace_until)

    @property
    def limits(self) -> TierLimits:
        """What the tier in force allows."""
        return TIER_LIMITS[self.effective_tier]

    @property
    def debates_remaining(self) -> int | None:
        """Debates left this period; None when the tier is unlimited."""
        limit = self.limits.debates_per_month
        return None if limit is None else max(limit - self.debates_used, 0)

    @property
    def is_at_limit(self) -> bool:
        limit = self.limits.debates_per_month
        return limit is not None and self.debates_used >= limit

    @property
    def active_member_count(self) -> int:
        return self.members.filter(is_active=True).count()

    @property
    def seats(self) -> dict[str, int | None]:
        """The tier's user limit against active members and pending invitations (each holds a seat)."""
        limit, members = self.limits.users, self.active_member_count
        pending = self.invitations.pending().count()
        available = None if limit is None else max(limit - members - pending, 0)
        return {"limit": limit, "members": members, "pending_invitations": pending, "available": available}

    @property
    def email(self) -> str:
        """The billing contact: the owner's e-mail, else the first admin's (dj-stripe's subscriber e-mail)."""
        if self.owner_id and self.owner and self.owner.is_active:
            return self.owner.email
        admin = self.members.filter(role=Role.ADMIN, is_active=True).order_by("created_at").first()
        return admin.email if admin else ""

    @property
    def owner_id_str(self) -> str | None:
        return str(self.owner_id) if self.owner_id else None

    def increment_debates(self, count: int = 1) -> bool:
        """Consume `count` debates of this period's quota, all or none; return False when they do not fit.

        One conditional UPDATE, so concurrent callers can never exceed the limit.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        limit = self.limits.debates_per_month
        if self._state.adding:
            if limit is not None and self.debates_used + count > limit:
                return False
            self.debates_used += count
            return True
        rows = Organization.objects.filter(pk=self.pk)
        if limit is not None:
            rows = rows.filter(debates_used__lte=limit - count)
        if rows.update(debates_used=F("debates_used") + count, updated_at=timezone.now()) != 1:
            self.refresh_from_db(fields=["debates_used"])
            return False
        self.debates_used += count
        return True

    def release_debate(self) -> None:
        """Give back one debate (used when the write that consumed it is abandoned)."""
        Organization.objects.filter(pk=self.pk, debates_used__gt=0).update(debates_used=F("debates_used") - 1)
        self.debates_used = max(self.debates_used - 1, 0)

    def reset_monthly_usage(self) -> None:
        """Start a new usage period now: debates used go back to zero."""
        self.debates_used = 0
        self.period_start = current_period_start()
        if not self._state.adding:
            Organization.objects.filter(pk=self.pk).start_period(self.period_start)

    def period_rollover(self) -> None:
        """Start the current period if this organization is still in an older one (safe against concurrency)."""
        if self.period_start < current_period_start():
            Organization.objects.filter(pk=self.pk).period_rollover()
            self.refresh_from_db(fields=["debates_used", "period_start"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "slug": self.slug,
            "tier": self.effective_tier.value,
            "owner_id": self.owner_id_str,
            "limits": self.limits.to_dict(),
            "debates_used": self.debates_used,
            "debates_remaining": self.debates_remaining,
            "is_at_limit": self.is_at_limit,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


_CLAIM_FIELDS = ("role", "organization_id", "is_active", "password")
_COLUMN = {"organization": "organization_id"}


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped by "revoke all": tokens carry the generation they were issued in and die when it moves on.
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    tokens_revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def from_db(cls, db: str, field_names: Any, values: Any) -> User:
        user = super().from_db(db, field_names, values)
        user._loaded_claims = user._claims()
        return user

    def _claims(self) -> dict[str, Any]:
        """The loaded fields a token of this user depends on (see accounts.managers)."""
        return {name: self.__dict__[name] for name in _CLAIM_FIELDS if name in self.__dict__}

    def _claims_changed(self, update_fields: Any) -> bool:
        before = getattr(self, "_loaded_claims", None)
        if before is None:  # a new user: no token exists yet
            return False
        now = self._claims()
        saved = set(now) if update_fields is None else {_COLUMN.get(f, f) for f in update_fields} & set(now)
        # A field loaded only after the instance was read cannot be compared: count it as changed.
        return any(name not in before or before[name] != now[name] for name in saved)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = (self.email or "").strip().lower()
        update_fields = kwargs.get("update_fields")
        ends_sessions = self._claims_changed(update_fields)
        if ends_sessions:
            self.token_generation = F("token_generation") + 1
            self.tokens_revoked_at = timezone.now()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "token_generation", "tokens_revoked_at"}
        pending = self.__dict__.pop("_pending_api_key", None) if self._state.adding else None
        if pending is None:
            super().save(*args, **kwargs)
        else:  # a key generated before the user was first saved: both rows or neither
            with transaction.atomic():
                super().save(*args, **kwargs)
                pending.user = self
                pending.save(force_insert=True)
        if ends_sessions:
            self.refresh_from_db(fields=["token_generation"])
            forget_generations([self.pk])
        self._loaded_claims = self._claims()

    @property
    def org_id(self) -> str | None:
        return str(self.organization_id) if self.organization_id else None

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def has_api_key(self) -> bool:
        """True when the user has a live API key (of any name)."""
        if self._state.adding:
            return "_pending_api_key" in self.__dict__
        if "_has_live_api_key" in self.__dict__:  # annotated by a list (accounts.models.api_keys)
            return self._has_live_api_key
        return self.api_keys.live().exists()

    def live_api_keys(self) -> list[ApiKey]:
        """Return the user's live API keys, newest first."""
        if self._state.adding:
            pending = self.__dict__.get("_pending_api_key")
            return [pending] if pending is not None else []
        return list(self.api_keys.live().order_by("-created_at"))

    def verify_password(self, password: str) -> bool:
        """Return True when `password` matches (upgrading an outdated hash in place)."""
        return self.check_password(password)

    def generate_api_key(self) -> str:
        """Create a new API key named "default", revoking the previous "default" key; return it (shown once).

        The user's other named keys are left alone. An unsaved user gets the key when first saved. This is the
        seed's model-level API: the tier and per-user rules are checked by accounts.services.api_key_create.
        """
        if self._state.adding:
            self._pending_api_key, key = ApiKey.unsaved(name=DEFAULT_API_KEY_NAME)
            return key
        with transaction.atomic():
            self.api_keys.filter(name=DEFAULT_API_KEY_NAME).revoke()
            self.api_keys.retire_expired()
            return ApiKey.issue(user=self, name=DEFAULT_API_KEY_NAME)[1]

    def revoke_api_key(self) -> None:
        """Revoke every API key of the user (the seed had one key; revoking all keeps "no key works" true)."""
        if self._state.adding:
            self.__dict__.pop("_pending_api_key", None)
            return
        self.api_keys.revoke()

    def to_dict(self, include_sensitive: bool = False) -> dict[str, Any]:
        """Return the user as JSON-ready data. Secrets are never included; sensitive adds the keys' public data.

        `api_key_prefix` and its dates describe the newest live key; `api_keys` lists every live key.
        """
        data: dict[str, Any] = {
            "id": str(self.id),
            "email": self.email,
            "name": self.name,
            "org_id": self.org_id,
            "role": self.role,
            "is_active": self.is_active,
            "has_api_key": self.has_api_key,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_login_at": self.last_login.isoformat() if self.last_login else None,
        }
        if include_sensitive:
            keys = [key.to_dict() for key in self.live_api_keys()]
            newest = keys[0] if keys else {}
            data["api_key_prefix"] = newest.get("prefix")
            data["api_key_created_at"] = newest.get("created_at")
            data["api_key_last_used_at"] = newest.get("last_used_at")
            data["api_keys"] = keys
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> User:
        """Build an (unsaved) user from `to_dict` output."""
        user = cls(
            email=data["email"],
            name=data.get("name", ""),
            role=data.get("role", Role.MEMBER),
            is_active=data.get("is_active", True),
        )
        if data.get("id"):
            user.id = uuid.UUID(str(data["id"]))
        if data.get("org_id"):
            user.organization_id = uuid.UUID(str(data["org_id"]))
        if data.get("created_at"):
            user.created_at = timezone.datetime.fromisoformat(data["created_at"])
        return user
