"""The cost dashboard (server-rendered, session login): spend, budget, charts, breakdowns, recent events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.web import admin_page, organization_page
from usage import charts, selectors
from usage.exports import csv_response
from usage.forms import BudgetForm, RangeForm
from usage.periods import dashboard_range
from usage.services.budgets import budget_alerts_acknowledge, budget_update


def _budget_initial(org: Any) -> dict[str, Any]:
    budget = selectors.budget_for(organization=org)
    return {
        "monthly_budget_usd": budget["monthly_budget_usd"],
        "alert_thresholds": ", ".join(str(t) for t in budget["alert_thresholds"]),
        "hard_limit": budget["hard_limit"],
    }


def _render(request: HttpRequest, org: Any, budget_form: BudgetForm | None = None, status: int = 200) -> HttpResponse:
    default_start, default_end = dashboard_range()
    range_form = RangeForm(request.GET or None, initial={"start": default_start, "end": default_end})
    start, end = range_form.dates()
    points = selectors.cost_timeseries(organization_id=org.pk, start=start, end=end, granularity="day")
    breakdowns = {
        by: selectors.cost_breakdown(organization=org, by=by, start=start, end=end)
        for by in ("provider", "model", "user")
    }
    context = {
        "section": "usage",
        "organization": org,
        "summary": selectors.cost_summary(organization=org),
        "range_form": range_form,
        "start": start,
        "end": end,
        "range_total": sum((p["cost"] for p in points), Decimal(0)),
        "range_tokens": sum(p["tokens"] for p in points),
        "range_events": sum(p["events"] for p in points),
        "chart_svg": charts.daily_cost_chart(points),
        "breakdowns": breakdowns,
        "recent_events": selectors.events_recent(organization=org, limit=15),
        "is_admin": request.user.is_org_admin,
        "budget_form": budget_form or BudgetForm(initial=_budget_initial(org)),
    }
    return render(request, "usage/dashboard.html", context, status=status)


@require_GET
@organization_page
def dashboard(request: HttpRequest, org: Any) -> HttpResponse:
    return _render(request, org)


@require_POST
@admin_page
def dashboard_budget(request: HttpRequest, org: Any) -> HttpResponse:
    form = BudgetForm(request.POST)
    if not form.is_valid():
        return _render(request, org, budget_form=form, status=400)
    budget_update(organization=org, updated_by=request.user, **form.cleaned_data)
    messages.success(request, "Budget saved.")
    return redirect("dashboard")


@require_GET
@organization_page
def dashboard_export(request: HttpRequest, org: Any) -> HttpResponse:
    start, end = RangeForm(request.GET or None).dates()
    return csv_response(organization=org, start=start, end=end)


@require_http_methods(["GET", "POST"])
@organization_page
def alerts(request: HttpRequest, org: Any) -> HttpResponse:
    """Budget alerts: every threshold crossed, when, and the spend then; admins mark them as seen."""
    if request.method == "POST":
        if not request.user.is_org_admin:
            return render(request, "site/forbidden.html", {"section": "alerts"}, status=403)
        seen = budget_alerts_acknowledge(organization=org, user=request.user)
        messages.success(request, f"Marked {seen} alert{pluralize(seen)} as seen.")
        return redirect("alerts")
    context = {
        "section": "alerts",
        "alerts": selectors.budget_alerts_history(organization=org),
        "budget": selectors.budget_for(organization=org),
        "is_admin": request.user.is_org_admin,
    }
    return render(request, "usage/alerts.html", context)
