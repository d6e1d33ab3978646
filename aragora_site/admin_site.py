"""The back office's admin site: Django's, with the service's throttled sign-in."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.forms import StaffLoginForm, throttled_response


class AragoraAdminSite(admin.AdminSite):
    site_header = "Aragora billing back office"
    site_title = "Aragora admin"
    login_form = StaffLoginForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return throttled_response(super().login(request, extra_context))
