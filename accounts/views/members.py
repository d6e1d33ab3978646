"""The members page: who is in the organization, their roles, seats, invitations; and accepting an invitation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import AcceptInvitationForm, InviteForm, RoleForm
from accounts.models import Organization, Role
from accounts.web import admin_page, organization_page, refused
from aragora_site.errors import ServiceError


def _page(request: HttpRequest, organization: Organization, invite: InviteForm) -> HttpResponse:
    members = list(selectors.organization_members(organization=organization))
    pending = list(selectors.invitations_pending(organization=organization)) if request.user.is_org_admin else []
    limit = organization.limits.users
    context = {
        "section": "members",
        "organization": organization,
        "members": members,
        "invitations": pending,
        "seats_limit": limit,
        "seats_used": len(members) + len(pending),
        "seats_full": limit is not None and len(members) + len(pending) >= limit,
        "is_admin": request.user.is_org_admin,
        "invite": invite,
        "roles": Role.choices,
    }
    return render(request, "accounts/members.html", context, status=400 if invite.errors else 200)


@require_http_methods(["GET"])
@organization_page
def members(request: HttpRequest, organization: Organization) -> HttpResponse:
    return _page(request, organization, InviteForm())


@require_POST
@admin_page
def invite(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Invite someone by e-mail: they set their own password through the link."""
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(organization=organization, invited_by=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error("email" if exc.code == "email_taken" else None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("members")
    return _page(request, organization, form)


@require_POST
@admin_page
def invitation_revoke(request: HttpRequest, organization: Organization, invitation_id: str) -> HttpResponse:
    try:
        services.invitation_revoke(organization=organization, invitation_id=invitation_id)
    except ServiceError as exc:
        return refused(request, exc, "members")
    messages.success(request, "Invitation revoked: its link no longer works.")
    return redirect("members")


@require_POST
@admin_page
def member_role(request: HttpRequest, organization: Organization, user_id: str) -> HttpResponse:
    """Change a member's role (their sessions end: their tokens carried the old role)."""
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: admin or member.")
        return redirect("members")
    try:
        member = services.organization_member_role_change(
            organization=organization, user_id=user_id, role=form.cleaned_data["role"], acting_user=request.user
        )
    except ServiceError as exc:
        return refused(request, exc, "members")
    messages.success(request, f"{member.email} is now {member.get_role_display().lower()}.")
    return redirect("members")


@require_POST
@admin_page
def member_remove(request: HttpRequest, organization: Organization, user_id: str) -> HttpResponse:
    try:
        services.organization_member_remove(organization=organization, user_id=user_id, acting_user_id=request.user.pk)
    except ServiceError as exc:
        return refused(request, exc, "members")
    messages.success(request, "Member removed: their sessions and API keys have ended.")
    return redirect("members")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page: choose a name and a password, join the organization, be signed in."""
    invitation = selectors.invitation_for_token(token=token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token, password=form.cleaned_data["password"], name=form.cleaned_data["name"]
            )
        except DjangoValidationError as exc:  # the password validators
            form.add_error("password", exc)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {user.organization.name}.")
            return redirect("dashboard")
    context = {"invitation": invitation, "form": form}
    return render(request, "accounts/invitation_accept.html", context, status=400 if form.errors else 200)
