"""HTTP API for billing: plans, checkout, the subscription, the customer portal and Stripe's webhook."""

from __future__ import annotations

import logging
import re
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Organization
from accounts.permissions import IsOrganizationAdmin, IsOrganizationMember
from accounts.selectors import organization_for_caller
from aragora_site.errors import ServiceError
from aragora_site.fields import StrictBooleanField, StrictCharField, StrictURLField
from aragora_site.http import client_ip
from aragora_site.schema import ERROR, IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX_LENGTH
from billing import selectors, stripe_client, webhooks
from billing.serializers import TierLimitsSerializer
from billing.services import self_service
from billing.tiers import PAID_TIERS, SubscriptionTier

logger = logging.getLogger("aragora.billing.api")

TIERS = SubscriptionTier.choices


@extend_schema_field({"type": "string", "enum": PAID_TIERS})
class PaidTierField(StrictCharField):
    """A paid tier's name; anything else is refused by the service with 400 `invalid_tier`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)


def _client_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not re.fullmatch(IDEMPOTENCY_HEADER.type["pattern"], key) or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ServiceError(
            f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
        )
    return key


def _organization(request: Request) -> Organization:
    return organization_for_caller(caller=request.user)  # applies a lapsed grace period too


class PlanSerializer(serializers.Serializer):
    tier = serializers.ChoiceField(choices=TIERS)
    name = serializers.CharField()
    limits = TierLimitsSerializer()
    purchasable = serializers.BooleanField()


class SubscriptionSerializer(serializers.Serializer):
    tier = serializers.ChoiceField(choices=TIERS)
    status = serializers.CharField(allow_null=True)
    has_subscription = serializers.BooleanField()
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    grace_until = serializers.DateTimeField(allow_null=True)
    limits = TierLimitsSerializer()


class StripeSubscriptionSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    tier = serializers.ChoiceField(choices=TIERS, allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    current_period_end = serializers.DateTimeField(allow_null=True)


def _stripe_subscription(info: stripe_client.SubscriptionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "status": info.status,
        "tier": info.tier.value if info.tier else None,
        "cancel_at_period_end": info.cancel_at_period_end,
        "current_period_end": info.current_period_end,
    }


PENDING_CHANGE = inline_serializer(
    "SubscriptionChangeRequested",
    fields={"detail": serializers.CharField(), "subscription": StripeSubscriptionSerializer()},
)


class PlansApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        summary="List the tiers with their limits and prices",
        responses={200: inline_serializer("Plans", fields={"plans": PlanSerializer(many=True)})},
    )
    def get(self, request: Request) -> Response:
        return Response({"plans": PlanSerializer(selectors.billing_plans(), many=True).data})


class CheckoutApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(serializers.Serializer):
        tier = PaidTierField()
        success_url = StrictURLField()
        cancel_url = StrictURLField()

    @extend_schema(
        summary="Start a Stripe Checkout session for a paid tier (organization admins)",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "CheckoutSession",
                fields={
                    "id": serializers.CharField(help_text="The Checkout session's id."),
                    "url": serializers.URLField(help_text="Send the customer here to pay."),
                    "session_id": serializers.CharField(help_text="The same id (kept for older clients)."),
                },
            ),
            400: ERROR,
            402: ERROR,
            403: ERROR,
            409: ERROR,
            502: ERROR,
            503: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = self_service.subscription_checkout_start(
            organization=_organization(request), client_key=_client_key(request), **data.validated_data
        )
        body = {"id": session.id, "url": session.url, "session_id": session.id}
        return Response(body, status=status.HTTP_201_CREATED)


class SubscriptionApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    @extend_schema(
        summary="The organization's subscription: tier, status, period end, cancellation, grace period",
        responses={200: SubscriptionSerializer, 403: ERROR},
    )
    def get(self, request: Request) -> Response:
        org = _organization(request)
        return Response(SubscriptionSerializer(selectors.subscription_summary(organization=org)).data)


class SubscriptionCancelApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(serializers.Serializer):
        at_period_end = StrictBooleanField(required=False, default=True)

    @extend_schema(
        summary="Cancel the subscription at the end of the period (default) or at once (organization admins)",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: PENDING_CHANGE, 400: ERROR, 402: ERROR, 403: ERROR, 409: ERROR, 502: ERROR, 503: ERROR},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        info = self_service.subscription_cancel(
            organization=_organization(request), client_key=_client_key(request), **data.validated_data
        )
        detail = "Cancellation requested; the organization follows when Stripe confirms it."
        return Response({"detail": detail, "subscription": _stripe_subscription(info)})


class SubscriptionChangeApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(serializers.Serializer):
        tier = PaidTierField()

    @extend_schema(
        summary="Move the subscription to another paid tier, prorated (organization admins)",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: PENDING_CHANGE, 400: ERROR, 402: ERROR, 403: ERROR, 409: ERROR, 502: ERROR, 503: ERROR},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        info = self_service.subscription_change(
            organization=_organization(request), client_key=_client_key(request), **data.validated_data
        )
        detail = "Plan change requested; the organization follows when Stripe confirms it."
        return Response({"detail": detail, "subscription": _stripe_subscription(info)})


class PortalApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(serializers.Serializer):
        return_url = StrictURLField()

    @extend_schema(
        summary="Open a Stripe customer-portal session (organization admins)",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            200: inline_serializer("PortalSession", fields={"url": serializers.URLField()}),
            400: ERROR,
            402: ERROR,
            403: ERROR,
            409: ERROR,
            502: ERROR,
            503: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        url = self_service.portal_session_create(
            organization=_organization(request), client_key=_client_key(request), **data.validated_data
        )
        return Response({"url": url})


class StripeWebhookApi(APIView):
    """Stripe's webhook: verified, applied once, acknowledged; a failure answers 500 so Stripe retries."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        auth=[],
        summary="Stripe webhook endpoint (signed with STRIPE_WEBHOOK_SECRET)",
        request={"application/json": {"type": "object"}},
        parameters=[OpenApiParameter("Stripe-Signature", location=OpenApiParameter.HEADER, required=True)],
        responses={
            200: inline_serializer(
                "WebhookReceived",
                fields={
                    "received": serializers.BooleanField(),
                    "duplicate": serializers.BooleanField(),
                    "outcome": serializers.CharField(allow_null=True),
                },
            ),
            400: ERROR,
            500: ERROR,
            503: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        if not request.headers.get("Stripe-Signature"):
            return Response({"detail": "The Stripe-Signature header is missing.", "code": "invalid_signature"}, 400)
        try:
            event = stripe_client.verify_webhook_signature(request.body, request.headers["Stripe-Signature"])
        except stripe_client.StripeConfigError as exc:
            # Without the secret no signature can be verified; Stripe keeps retrying until it is configured.
            logger.error("Stripe webhook refused: %s", exc)
            return Response({"detail": "Webhooks are not configured.", "code": "webhook_not_configured"}, status=400)
        except (stripe_client.WebhookSignatureError, UnicodeDecodeError) as exc:
            logger.warning("Stripe webhook refused from %s: %s", client_ip(request), exc)
            return Response({"detail": str(exc), "code": "invalid_signature"}, status=400)
        meta = {"remote_ip": client_ip(request), "headers": {"Stripe-Signature": request.headers["Stripe-Signature"]}}
        try:
            result = webhooks.stripe_event_ingest(event=event, meta=meta)
        except stripe_client.StripeConfigError as exc:
            logger.error("Stripe event %s not processed: %s", event.id, exc)  # Stripe retries until configured
            body = {"detail": f"Billing is not configured: {exc}", "code": "stripe_not_configured"}
            return Response(body, status=503, headers={"Retry-After": "600"})
        except Exception:
            body = {"detail": "The event could not be processed; it will be retried.", "code": "processing_failed"}
            return Response(body, status=500)
        outcome = result.outcome.value if result.outcome else None
        return Response({"received": True, "duplicate": result.duplicate, "outcome": outcome})
