"""The front door: a short landing page for visitors; the app for signed-in users."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from billing.selectors import billing_plans


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "site/landing.html", {"plans": billing_plans()})
