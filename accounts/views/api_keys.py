"""The API keys page: the signed-in user's keys, each shown once at creation, with this month's spend; revoke."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm
from accounts.models import Organization
from accounts.web import organization_page, refused
from aragora_site.errors import ServiceError
from usage.selectors import api_keys_spend


def _page(request: HttpRequest, organization: Organization, form: ApiKeyForm, **extra: object) -> HttpResponse:
    keys = list(selectors.api_keys_live(user_id=request.user.pk))
    spend = api_keys_spend(organization=organization, key_ids=[key.pk for key in keys])
    context = {
        "section": "keys",
        "keys": [(key, spend.get(str(key.pk), 0)) for key in keys],
        "form": form,
        "api_access": organization.limits.api_access,
        **extra,
    }
    return render(request, "accounts/api_keys.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@organization_page
def api_keys(request: HttpRequest, organization: Organization) -> HttpResponse:
    """List the user's live keys; create one (its secret is shown on this answer only)."""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        expires_at = datetime.combine(expires_on, time.min, tzinfo=UTC) if expires_on else None
        try:
            key, secret = services.api_key_create(
                user=request.user, name=form.cleaned_data["name"], expires_at=expires_at
            )
        except ServiceError as exc:
            form.add_error("expires_on" if exc.code == "invalid_expiry" else None, exc.message)
        else:
            response = _page(request, organization, ApiKeyForm(), created=key, secret=secret)
            response["Cache-Control"] = "no-store"  # the secret must not stay in any cache
            return response
    return _page(request, organization, form)


@require_POST
@organization_page
def api_key_revoke(request: HttpRequest, organization: Organization, key_id: str) -> HttpResponse:
    """Revoke one of the user's keys: it stops working at once."""
    try:
        services.api_key_revoke(user=request.user, key_id=key_id)
    except ServiceError as exc:
        return refused(request, exc, "api-keys")
    messages.success(request, "Key revoked: it no longer works.")
    return redirect("api-keys")
