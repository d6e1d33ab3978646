"""Output serializers shared by the accounts endpoints: users, organizations, tokens, API keys, invitations."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Role, User
from billing.serializers import TierLimitsSerializer
from billing.tiers import SubscriptionTier


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    token_type = serializers.CharField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    org_id = serializers.UUIDField(source="organization_id", allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    has_api_key = serializers.BooleanField(help_text="The user has a live API key (of any name).")
    created_at = serializers.DateTimeField()
    last_login_at = serializers.DateTimeField(source="last_login", allow_null=True)


class UserDetailSerializer(UserSerializer):
    """The caller's own account: the user plus the public prefix and dates of their newest live API key."""

    api_key_prefix = serializers.CharField(allow_null=True, read_only=True, default=None)
    api_key_created_at = serializers.DateTimeField(allow_null=True, read_only=True, default=None)
    api_key_last_used_at = serializers.DateTimeField(allow_null=True, read_only=True, default=None)

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        newest = next(iter(instance.live_api_keys()), None)  # one query for the three fields
        if newest is not None:
            data["api_key_prefix"] = newest.prefix
            data["api_key_created_at"] = self.fields["api_key_created_at"].to_representation(newest.created_at)
            last_used = newest.last_used_at
            data["api_key_last_used_at"] = self.fields["api_key_last_used_at"].to_representation(last_used)
        return data


class SeatsSerializer(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True, help_text="Users the tier in force allows; null: unlimited.")
    members = serializers.IntegerField(help_text="Active members.")
    pending_invitations = serializers.IntegerField(help_text="Invitations not yet accepted; each holds a seat.")
    available = serializers.IntegerField(allow_null=True, help_text="Seats left; null: unlimited.")


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    tier = serializers.ChoiceField(
        choices=SubscriptionTier.choices,
        source="effective_tier",
        help_text="The tier in force (free once a grace period ran out).",
    )
    owner_id = serializers.UUIDField(allow_null=True)
    limits = TierLimitsSerializer()
    debates_used = serializers.IntegerField()
    debates_remaining = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    is_at_limit = serializers.BooleanField()
    period_start = serializers.DateField()
    grace_until = serializers.DateTimeField(allow_null=True, help_text="End of a grace period after a failed payment.")
    created_at = serializers.DateTimeField()


class OrganizationSummarySerializer(OrganizationSerializer):
    member_count = serializers.IntegerField(source="active_member_count")
    seats = SeatsSerializer(help_text="The user limit: members and pending invitations against the tier's seats.")


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class ApiKeySerializer(serializers.Serializer):
    """An API key as its owner sees it: never the key itself."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to recognise it.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Updated at most every 5 minutes.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: never expires.")


class InviterSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()


class InvitationSerializer(serializers.Serializer):
    """An invitation as admins see it: never its token, which only the invitee's e-mail carries."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"])
    invited_by = InviterSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    email_sent_at = serializers.DateTimeField(allow_null=True, help_text="null: not sent (see email_error).")
    email_error = serializers.CharField(help_text="Why the e-mail could not be sent; empty once sent.")
