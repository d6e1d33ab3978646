"""Forms of the dashboard: sign-in (throttled like the API), date range, budget."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import services as account_services
from accounts.services import ServiceError
from usage import selectors, services


class LoginForm(AuthenticationForm):
    """Django's sign-in form, checked by the same service as the API: failures are counted and throttled."""

    username = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(label="Password", max_length=1024, strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email and password:
            try:
                user = account_services.user_login(
                    email=email, password=password, ip_address=account_services.client_ip(self.request)
                )
            except ServiceError as exc:
                raise ValidationError(exc.message, code=exc.code) from exc
            user.backend = "django.contrib.auth.backends.ModelBackend"
            self.user_cache = user
            self.confirm_login_allowed(user)
        return self.cleaned_data


class RangeForm(forms.Form):
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        default_start, default_end = selectors.default_range()
        start, end = data.get("start") or default_start, data.get("end") or default_end
        if start > end:
            raise ValidationError("The start date must not be after the end date.")
        if (end - start).days >= selectors.MAX_RANGE_DAYS:
            raise ValidationError(f"A range may cover at most {selectors.MAX_RANGE_DAYS} days.")
        return {"start": start, "end": end}

    def dates(self) -> tuple[date, date]:
        """Return the chosen range, or the current period when the form is invalid."""
        if self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return selectors.default_range()


class BudgetForm(forms.Form):
    monthly_budget_usd = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        min_value=Decimal("0.01"),
        max_value=services.MAX_BUDGET,
        max_digits=12,
        decimal_places=2,
        help_text="Leave empty for no budget.",
    )
    alert_thresholds = forms.CharField(
        label="Alert at (% of budget)", max_length=100, initial="50, 80, 100", help_text="Comma-separated."
    )
    hard_limit = forms.BooleanField(label="Block new debates once the budget is spent", required=False)

    def clean_alert_thresholds(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["alert_thresholds"].split(",") if part.strip()]
        if not raw or not all(part.isdigit() for part in raw):
            raise ValidationError("Enter whole percentages separated by commas, e.g. 50, 80, 100.")
        try:
            return services.budget_thresholds_clean([int(part) for part in raw])
        except services.UsageValidationError as exc:
            raise ValidationError(exc.errors[0]["alert_thresholds"][0]) from exc
