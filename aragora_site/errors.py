"""The service's refusals (`ServiceError`), infrastructure faults, and the one JSON error shape of the API:
{"detail": ..., "code": ..., "errors"?: {...}}.

Faults of the database, the disk or the cache are not the client's doing and not a bug: they answer 503 with a
stable code and `Retry-After`, on the API (JSON) and on pages (HTML) alike.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(Exception):
    """A refused operation; `code` is the stable error code shown to API clients."""

    status = 400
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


@dataclass(frozen=True)
class Fault:
    """An infrastructure fault as the client sees it: 503, a stable code, when to retry."""

    code: str
    detail: str
    retry_after: int


BUSY = Fault("database_busy", "The database is busy; retry shortly.", 1)
STORAGE_FULL = Fault("storage_full", "The service's storage is full; retry later.", 60)
DATABASE_UNAVAILABLE = Fault("database_unavailable", "The database cannot be reached; retry shortly.", 5)
CACHE_UNAVAILABLE = Fault("cache_unavailable", "The shared cache cannot be reached; retry shortly.", 5)

_BUSY_TEXT = ("database is locked", "deadlock detected", "could not serialize access")
_FULL_TEXT = ("database or disk is full", "no space left on device", "disk full")
_UNREACHABLE_TEXT = (
    "connection",
    "could not connect",
    "not currently accepting connections",
    "the database system is",
    "unable to open database file",
    "timeout expired",
    "server closed",
)


def _cache_error_types() -> tuple[type[BaseException], ...]:
    from django_redis.exceptions import ConnectionInterrupted
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return ConnectionInterrupted, RedisConnectionError, RedisTimeoutError


def classify_fault(exc: BaseException) -> Fault | None:
    """Return the infrastructure fault behind `exc`, or None when it is something else (a bug: 500)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return STORAGE_FULL
    if isinstance(exc, _cache_error_types()):
        return CACHE_UNAVAILABLE
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    text = str(exc).lower()
    if any(marker in text for marker in _BUSY_TEXT):
        return BUSY
    if any(marker in text for marker in _FULL_TEXT):
        return STORAGE_FULL
    if isinstance(exc, InterfaceError) or any(marker in text for marker in _UNREACHABLE_TEXT):
        return DATABASE_UNAVAILABLE
    return None


def _fault_response(request: Any, fault: Fault) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": fault.detail, "code": fault.code}, status=503)
    else:
        page = render_to_string("503.html", {"fault": fault})
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(fault.retry_after)
    return response


def _first_code(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render every API error as JSON with a stable `code`."""
    fault = classify_fault(exc)
    if fault is not None:
        response = Response({"detail": fault.detail, "code": fault.code}, status=503)
        response["Retry-After"] = str(fault.retry_after)
        return response
    if isinstance(exc, ServiceError):
        response = Response({"detail": exc.message, "code": exc.code}, status=exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "The request is invalid.", "code": "invalid", "errors": exc.detail}
        return response
    detail = getattr(exc, "detail", None)
    code = _first_code(detail) if detail is not None else "error"
    if isinstance(exc, exceptions.NotAuthenticated):
        code = "not_authenticated"
    response.data = {"detail": str(detail) if not isinstance(detail, dict | list) else detail, "code": code}
    return response


def handler404(request: Any, exception: Exception | None = None) -> HttpResponse:
    """JSON for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def handler500(request: Any) -> HttpResponse:
    """A fault of the infrastructure is a 503 with Retry-After; anything else a 500 (JSON on the API)."""
    fault = classify_fault(sys.exc_info()[1]) if sys.exc_info()[1] is not None else None
    if fault is not None:
        return _fault_response(request, fault)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Internal error; it has been logged.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
