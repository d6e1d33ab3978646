"""The back office's admin site: Django's, with the service's throttled sign-in, an overview on the home page,
and the product's own apps first with dj-stripe's synced models grouped last."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.forms import StaffLoginForm, throttled_response
from aragora_site.overview import staff_overview

PRODUCT_APPS = ("accounts", "billing", "usage", "aragora_site")
STRIPE_APP = "djstripe"
STRIPE_SECTION = "Stripe (synced)"


def _app_order(app: dict[str, Any]) -> tuple[int, int, str]:
    label = app["app_label"]
    if label in PRODUCT_APPS:
        return (0, PRODUCT_APPS.index(label), "")
    return (2 if label == STRIPE_APP else 1, 0, app["name"].lower())


class AragoraAdminSite(admin.AdminSite):
    site_header = "Aragora billing back office"
    site_title = "Aragora admin"
    index_title = "Overview"
    index_template = "admin/aragora_index.html"
    login_form = StaffLoginForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return throttled_response(super().login(request, extra_context))

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        for app in apps:
            if app["app_label"] == STRIPE_APP:
                app["name"] = STRIPE_SECTION
        return sorted(apps, key=_app_order)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        apps = self.get_app_list(request)
        context = {
            "product_apps": [app for app in apps if app["app_label"] != STRIPE_APP],
            "stripe_apps": [app for app in apps if app["app_label"] == STRIPE_APP],
            "overview": staff_overview(user=request.user),
            **(extra_context or {}),
        }
        return super().index(request, context)
