"""Forms of the dashboard: date range and budget."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from usage import validation
from usage.periods import dashboard_range, range_error


class RangeForm(forms.Form):
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        default_start, default_end = dashboard_range()
        start, end = data.get("start") or default_start, data.get("end") or default_end
        if problem := range_error(start, end):
            raise ValidationError(problem[1])
        return {"start": start, "end": end}

    def dates(self) -> tuple[date, date]:
        """Return the chosen range, or the current period when the form is invalid."""
        if self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return dashboard_range()


class BudgetForm(forms.Form):
    monthly_budget_usd = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        min_value=validation.MIN_BUDGET,
        max_value=validation.MAX_BUDGET,
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
            return validation.budget_thresholds_clean([int(part) for part in raw])
        except validation.UsageValidationError as exc:
            raise ValidationError(exc.errors[0]["alert_thresholds"][0]) from exc
