"""Forms of the web pages' sign-in, checked by the same service as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services
from aragora_site.errors import ServiceError
from aragora_site.http import client_ip


class LoginForm(AuthenticationForm):
    """Django's sign-in form, checked by the same service as the API: failures are counted and throttled."""

    retry_after: int | None = None  # set when the sign-in was throttled

    username = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(label="Password", max_length=1024, strip=False, widget=forms.PasswordInput)

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
