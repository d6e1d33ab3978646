"""Forms of the customer pages' accounts: sign-in (throttled like the API), registration, profile, password reset."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts import services
from accounts.models import Role, User
from aragora_site.errors import ServiceError
from aragora_site.http import client_ip
from aragora_site.mail import smtp_configured, smtp_connection

PASSWORD_MAX = services.PASSWORD_MAX_LENGTH

logger = logging.getLogger("aragora.accounts")


class LoginForm(AuthenticationForm):
    """Django's sign-in form, checked by the same service as the API: failures are counted and throttled."""

    retry_after: int | None = None  # set when the sign-in was throttled

    username = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(label="Password", max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email and password:
            try:
                user = services.user_login(email=email, password=password, ip_address=client_ip(self.request))
            except ServiceError as exc:
                self.retry_after = exc.retry_after
                raise ValidationError(exc.message, code=exc.code) from exc
            user.backend = "django.contrib.auth.backends.ModelBackend"
            self.user_cache = user
            self.confirm_login_allowed(user)
        return self.cleaned_data


class StaffLoginForm(LoginForm):
    """The admin's sign-in: the same throttled check, and only staff get in."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise ValidationError(
                "Please enter the correct e-mail and password for a staff account.", code="invalid_login"
            )


def throttled_response(response: Any) -> Any:
    """Answer 429 with Retry-After when the page's sign-in form was refused by the throttle."""
    form = (getattr(response, "context_data", None) or {}).get("form")
    if isinstance(form, LoginForm) and form.retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class RegisterForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=200, required=False)
    email = forms.EmailField(label="E-mail", max_length=254)
    organization_name = forms.CharField(
        label="Organization", max_length=200, required=False, help_text="Leave empty to name it after you."
    )
    password = forms.CharField(label="Password", max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput)
    password_again = forms.CharField(
        label="Password again", max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        password = data.get("password")
        if password and password != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        elif password:
            try:
                validate_password(password, user=User(email=data.get("email") or "", name=data.get("name") or ""))
            except ValidationError as exc:
                self.add_error("password", exc)
        return data

    def register(self) -> User:
        """Create the account and its free organization, or put the refusal on the form and raise."""
        data = self.cleaned_data
        try:
            return services.user_register(
                email=data["email"],
                password=data["password"],
                name=data["name"],
                organization_name=data["organization_name"],
            )
        except ServiceError as exc:
            self.add_error("email" if exc.code == "email_taken" else None, exc.message)
            raise


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name"]
        labels = {"name": "Name"}


class SafePasswordResetForm(PasswordResetForm):
    """Django's reset form (a signed, time-limited link) sent through the service's SMTP server.

    The page answers the same whether or not the address has an account, and whether or not the mail went out.
    """

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        if not smtp_configured():
            logger.warning("Password reset for a known address not sent: ARAGORA_SMTP_HOST is not set")
            return
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(
            subject, render_to_string(email_template_name, context), from_email, [to_email]
        )
        try:
            smtp_connection().send_messages([message])
        except Exception:  # the page must not reveal anything, and must not fail
            logger.exception("Password reset mail could not be sent")


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What uses it, e.g. production debate runner.")
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional; at most a year ahead. The key stops working at the start of that day (UTC).",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=200, required=False)
    password = forms.CharField(label="Password", max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput)
    password_again = forms.CharField(
        label="Password again", max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data
