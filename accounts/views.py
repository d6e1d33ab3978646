"""Web sign-in and sign-out for the server-rendered pages."""

from typing import Any

from django.contrib.auth.views import LoginView
from django.http import HttpResponse

from accounts.forms import LoginForm, throttled_response


class SignInView(LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        return throttled_response(super().form_invalid(form))
