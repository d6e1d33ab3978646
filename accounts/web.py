"""Helpers of the customer pages: the organization comes from the signed-in session, never from the request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from aragora_site.errors import ServiceError


def organization_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Require a signed-in member of an organization; call `view(request, organization, ...)`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organization = request.user.organization
        if organization is None:
            return render(request, "site/no_organization.html", status=403)
        return view(request, organization, *args, **kwargs)

    return wrapper


def admin_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Like organization_page, for actions only the organization's admins may take (403 for members)."""

    @organization_page
    @wraps(view)
    def wrapper(request: HttpRequest, organization: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_org_admin:
            return render(request, "site/forbidden.html", {"section": kwargs.get("section")}, status=403)
        return view(request, organization, *args, **kwargs)

    return wrapper


def refused(request: HttpRequest, error: ServiceError, to: str, *args: Any) -> HttpResponse:
    """Show a service's refusal as a message on the page the user came from."""
    messages.error(request, error.message)
    return redirect(to, *args)
