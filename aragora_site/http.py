"""Request helpers shared by every app: the client's address and the credential headers."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host


def header(request: Any, name: str) -> str:
    """Return a request header: from WSGI `META` when there is one (cheaper than building `headers`)."""
    meta = getattr(request, "META", None)
    if meta is not None:
        return meta.get("HTTP_" + name.upper().replace("-", "_"), "")
    headers = getattr(request, "headers", None) or {}
    return headers.get(name) or headers.get(name.lower()) or ""


def bearer_credentials(request: Any) -> str | None:
    """Return the credentials of an `Authorization: Bearer ...` header, or None."""
    scheme, _, credentials = header(request, "Authorization").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def client_ip(request: Any) -> str | None:
    """Return the client address: REMOTE_ADDR, or the address the trusted proxies recorded."""
    hops = settings.ARAGORA_TRUSTED_PROXY_COUNT
    address = request.META.get("REMOTE_ADDR")
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def redirect_allowed(url: str) -> bool:
    """Return True when `url` may be a return address: http(s) on a host of ARAGORA_REDIRECT_ALLOWED_HOSTS
    (by default the ALLOWED_HOSTS), so that nobody can use this service to send users to a site of their own."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    allowed = settings.ARAGORA_REDIRECT_ALLOWED_HOSTS or settings.ALLOWED_HOSTS
    return validate_host(host, allowed)
