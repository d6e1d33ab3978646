"""Examples for every operation of the published schema: a request and its success answer (recorded from the
service; aragora_site/api_examples.json) and the main refusals with their stable codes (below). Added to the
schema by `schema_examples`, a drf-spectacular post-processing hook, so Swagger UI and ReDoc show them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from aragora_site.fields import DATETIME_HINT, StrictMoneyField

SUCCESSES = Path(__file__).with_name("api_examples.json")
MONEY_HINT = StrictMoneyField.default_error_messages["invalid"]

# (status, code, detail[, errors]) shown for a status when an operation names none of its own.
DEFAULT_REFUSALS: dict[str, list[tuple | dict]] = {
    "400": [("invalid", "The request is invalid.", {"name": ["This field is required."]})],
    "401": [
        ("not_authenticated", "Authentication credentials were not provided."),
        ("invalid_token", "The access token is invalid, expired or revoked."),
    ],
    "403": [
        ("permission_denied", "You do not have permission to perform this action."),
        ("no_organization", "This account does not belong to an organization."),
    ],
    "404": [("not_found", "Not found.")],
    "500": [("processing_failed", "The event could not be processed; it will be retried.")],
    "502": [("stripe_unavailable", "Stripe could not be reached; try again.")],
    "503": [("database_unavailable", "The database cannot be reached; retry shortly.")],
}
_STRIPE = {
    "400": [
        ("stripe_invalid_request", "A canceled subscription can only update its cancellation_details and metadata.")
    ],
    "402": [("card_declined", "Your card was declined.")],
    "502": [
        ("stripe_unavailable", "Stripe could not be reached; try again."),
        ("stripe_error", "Stripe failed to answer the request; try again."),
    ],
    "503": [
        ("stripe_rate_limited", "Stripe is rate limiting this service; retry shortly."),
        ("stripe_not_configured", "Billing is not configured: STRIPE_SECRET_KEY is not set."),
    ],
}
_KEY_CONFLICT = (
    "idempotency_conflict",
    "This Idempotency-Key was already used with other parameters; use a new key for a new request.",
)
_BAD_KEY = ("invalid_idempotency_key", "Idempotency-Key must be 1-200 printable ASCII characters.")
_ADMINS = ("permission_denied", "Only organization admins may do this.")
_NO_SUBSCRIPTION = ("no_subscription", "The organization has no active subscription.")
_INVALID_TIER = ("invalid_tier", "Choose a paid tier: starter, professional or enterprise.")
_REDIRECT = (
    "redirect_not_allowed",
    "Return addresses must be on this service's hosts; 'evil.example.net' is not one.",
)
_NO_API_ACCESS = (
    "api_access_not_in_tier",
    "API keys need a tier with API access (Professional or Enterprise); upgrade the organization first.",
)
_BAD_RANGE = ("invalid", "The request is invalid.", {"start": ["Date has wrong format. Use YYYY-MM-DD."]})

# The refusals each operation answers most, by status; other statuses fall back to DEFAULT_REFUSALS.
REFUSALS: dict[str, dict[str, list[tuple | dict]]] = {
    "auth_register_create": {
        "400": [("invalid", "The request is invalid.", {"password": ["This password is too common."]})],
        "409": [("email_taken", "An account with this e-mail already exists.")],
    },
    "auth_login_create": {
        "401": [("invalid_credentials", "Invalid e-mail or password.")],
        "429": [("too_many_attempts", "Too many failed sign-ins; try again later.")],
    },
    "auth_refresh_create": {
        "401": [
            ("invalid_token", "The refresh token is invalid, expired or revoked."),
            (
                "refresh_token_reused",
                "This refresh token was already used; every session of the account has been revoked.",
            ),
        ]
    },
    "auth_password_create": {"400": [("invalid_credentials", "The current password is wrong.")]},
    "auth_revoke_create": {
        "400": [("invalid_token", "The token is malformed, expired or not signed by this service.")]
    },
    "auth_api_keys_create": {
        "400": [
            (
                "invalid",
                "The request is invalid.",
                {"expires_at": [DATETIME_HINT]},
            )
        ],
        "403": [_NO_API_ACCESS],
        "409": [
            ("key_name_taken", "One of your live API keys already has this name."),
            ("too_many_keys", "A user can hold at most 10 live API keys; revoke one first."),
        ],
    },
    "auth_api_key_create": {
        "403": [_NO_API_ACCESS],
        "409": [("too_many_keys", "A user can hold at most 10 live API keys; revoke one first.")],
    },
    "auth_api_keys_destroy": {"404": [("not_found", "No such API key.")]},
    "billing_checkout_create": {
        **_STRIPE,
        "400": [_INVALID_TIER, _REDIRECT, _BAD_KEY, *_STRIPE["400"]],
        "403": [_ADMINS],
        "409": [
            _KEY_CONFLICT,
            ("subscription_exists", "The organization already has a subscription; change its plan instead."),
        ],
    },
    "billing_portal_create": {
        **_STRIPE,
        "400": [_REDIRECT, _BAD_KEY],
        "403": [_ADMINS],
        "409": [_KEY_CONFLICT, ("no_customer", "The organization has no Stripe customer yet.")],
    },
    "billing_subscription_cancel_create": {
        **_STRIPE,
        "400": [_BAD_KEY, *_STRIPE["400"]],
        "403": [_ADMINS],
        "409": [_KEY_CONFLICT, _NO_SUBSCRIPTION],
    },
    "billing_subscription_change_create": {
        **_STRIPE,
        "400": [("same_tier", "The organization is already on the Professional tier."), _INVALID_TIER, _BAD_KEY],
        "403": [_ADMINS],
        "409": [_KEY_CONFLICT, _NO_SUBSCRIPTION],
    },
    "billing_webhook_create": {
        "400": [("invalid_signature", "No signatures found matching the expected signature for payload")],
        "503": [("stripe_not_configured", "Billing is not configured: STRIPE_SECRET_KEY is not set.")],
    },
    "costs_budget_update": {
        "400": [
            (
                "invalid",
                "The request is invalid.",
                {"monthly_budget_usd": [MONEY_HINT]},
            )
        ],
        "403": [_ADMINS],
    },
    "costs_breakdown_retrieve": {"400": [_BAD_RANGE]},
    "costs_timeseries_retrieve": {"400": [_BAD_RANGE]},
    "costs_export.csv_retrieve": {"400": [_BAD_RANGE]},
    "usage_summary_retrieve": {"400": [_BAD_RANGE]},
    "usage_events_create": {
        "400": [
            (
                "invalid",
                "The request is invalid.",
                {"occurred_at": [DATETIME_HINT]},
            ),
            (
                "invalid",
                "The request is invalid.",
                {"events": {"1": {"event_type": ['"chat" is not a valid choice.']}}},
            ),
        ],
        "402": [
            ("quota_exceeded", "The Free tier includes 10 debates a month and 0 remain in 2026-12; upgrade for more."),
            ("budget_exceeded", "The spend of 2026-12 would pass the hard budget limit of 250.00 USD."),
        ],
        "409": [("idempotency_conflict", "Idempotency key 'req-0001' was already used with a different body.")],
    },
    "org_invitations_create": {
        "403": [_ADMINS],
        "409": [
            ("email_taken", "An account with this e-mail already exists."),
            (
                "user_limit_reached",
                "The Professional tier allows 10 user(s), counting pending invitations; upgrade for more.",
            ),
        ],
        "503": [
            (
                "email_not_configured",
                "Invitations are sent by e-mail and no SMTP server is configured (ARAGORA_SMTP_HOST).",
            )
        ],
    },
    "org_invitations_accept_create": {
        "400": [
            (
                "invalid_invitation",
                "This invitation link is invalid, expired, revoked or already used; ask for a new invitation.",
            )
        ],
        "409": [("email_taken", "An account with this e-mail already exists.")],
    },
    "health_retrieve": {
        "400": [("invalid", "The request is invalid.", {"non_field_errors": ["This operation takes no parameters."]})],
        "503": [
            {
                "status": "degraded",
                "database": {"vendor": "postgresql", "ok": False, "error": "database_unavailable"},
                "cache": {"backend": "RedisCache", "ok": True, "latency_ms": 0.41},
            }
        ],
    },
    "org_members_create": {"409": [("email_taken", "An account with this e-mail already exists.")]},
    "org_members_partial_update": {
        "400": [
            ("cannot_change_owner_role", "The owner's role cannot be changed."),
            ("last_admin", "The organization would have no admin left; make someone else admin first."),
        ],
        "404": [("not_found", "No such member in this organization.")],
    },
    "org_members_destroy": {
        "400": [("cannot_remove_self", "You cannot remove yourself.")],
        "404": [("not_found", "No such member in this organization.")],
    },
}


@cache
def _successes() -> dict[str, dict[str, Any]]:
    return json.loads(SUCCESSES.read_text(encoding="utf-8"))


def _refusal(refusal: tuple | dict) -> dict[str, Any]:
    if isinstance(refusal, dict):  # an answer of another shape than the error body
        return refusal
    code, detail, *errors = refusal
    return {"detail": detail, "code": code, **({"errors": errors[0]} if errors else {})}


def _refusal_examples(operation_id: str, status: str) -> dict[str, dict[str, Any]]:
    refusals = REFUSALS.get(operation_id, {}).get(status) or DEFAULT_REFUSALS.get(status, [])
    named: dict[str, dict[str, Any]] = {}
    for refusal in refusals:
        value = _refusal(refusal)
        code = value.get("code") or value.get("status", "refused")
        name = code if code not in named else f"{code}_{len(named) + 1}"
        named[name] = {"summary": f"{status} {code}", "value": value}
    return named


def _add_to_operation(operation: dict[str, Any]) -> None:
    operation_id = operation["operationId"]
    success = _successes().get(operation_id)
    if success is None:
        raise KeyError(f"No example for the operation {operation_id}: add one to {SUCCESSES.name}.")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and "request" in success:
        body["examples"] = {"request": {"summary": "A request", "value": success["request"]}}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] in success.get("parameters", {}):
            parameter["example"] = success["parameters"][parameter["name"]]
    for status, response in operation["responses"].items():
        for media_type, content in response.get("content", {}).items():
            if status == str(success["status"]):
                content["examples"] = {"success": {"summary": f"{status} success", "value": success["response"]}}
            elif media_type == "application/json" and (examples := _refusal_examples(operation_id, status)):
                content["examples"] = examples


def schema_examples(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add a request, its success answer and the main refusals to every operation (drf-spectacular hook)."""
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                _add_to_operation(operation)
    return result
