"""Request-wide guards: the body-size limit as a clean 413, and the security headers of every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Stripe's hosted pages: forms that open Checkout or the customer portal are redirected there.
STRIPE_PAGES = ("https://checkout.stripe.com", "https://billing.stripe.com")


@lru_cache(maxsize=8)
def _policy(stripe_api_base: str) -> str:
    # A Stripe-compatible server for tests and demos hosts its stand-in pages itself.
    parts = urlsplit(stripe_api_base)
    stand_in = (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()
    form_targets = " ".join(("'self'", *STRIPE_PAGES, *stand_in))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Inline styles stay allowed for the server-drawn SVG charts; scripts never are.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action {form_targets}",
            "frame-ancestors 'none'",
        ]
    )


def content_security_policy() -> str:
    """Return the policy of the service's HTML pages: scripts from this origin only, no plugins, no framing."""
    return _policy(settings.STRIPE_API_BASE)


class RequestSizeLimitMiddleware:
    """Answer a declared body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            detail = f"The request body is larger than {limit} bytes."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": detail, "code": "request_too_large"}, status=413)
            return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Give every HTML page a Content-Security-Policy (Django 5.2 has none built in)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", content_security_policy())
        return response
