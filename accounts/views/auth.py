"""Customer pages of accounts: sign-in and out, registration, the account page, password change and reset."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts import revocation
from accounts.forms import LoginForm, ProfileForm, RegisterForm, SafePasswordResetForm, throttled_response
from aragora_site.errors import ServiceError


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        return throttled_response(super().form_invalid(form))


def register(request: HttpRequest) -> HttpResponse:
    """Open an account with a new free organization, then sign in."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.register()
        except ServiceError:
            pass
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to Aragora. {user.organization.name} is on the Free plan.")
            return redirect("dashboard")
    return render(request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in user's profile, password and sessions."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("account")
    status = 400 if form.errors else 200
    return render(request, "accounts/account.html", {"form": form, "section": "account"}, status=status)


@require_POST
@login_required
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every API token of the user and this session."""
    revocation.revoke_all_for_user(str(request.user.pk), reason="web_sign_out_everywhere")
    logout(request)
    messages.success(request, "Signed out everywhere: every token and session of the account has ended.")
    return redirect("login")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account")
    extra_context = {"section": "account"}

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session; every API token of the user ends
        messages.success(self.request, "Password changed. API tokens issued before now no longer work.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = SafePasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password-reset-sent")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Password set. Sign in with it.")
        return response
