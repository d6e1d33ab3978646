"""Web sign-in and sign-out for the server-rendered pages."""

from django.contrib.auth.views import LoginView

from accounts.forms import LoginForm


class SignInView(LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
