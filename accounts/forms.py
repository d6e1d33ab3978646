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

    username = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(label="Password", max_length=1024, strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email and password:
            try:
                user = services.user_login(email=email, password=password, ip_address=client_ip(self.request))
            except ServiceError as exc:
                raise ValidationError(exc.message, code=exc.code) from exc
            user.backend = "django.contrib.auth.backends.ModelBackend"
            self.user_cache = user
            self.confirm_login_allowed(user)
        return self.cleaned_data
