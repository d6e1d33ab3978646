"""The service's refusals (`ServiceError`) and the one JSON error shape of the API:
{"detail": ..., "code": ..., "errors"?: {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(Exception):
    """A refused operation; `code` is the stable error code shown to API clients."""

    status = 400

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


def _first_code(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


_RETRYABLE_DB_ERRORS = ("database is locked", "deadlock detected", "could not serialize access")


def _is_retryable_db_error(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and any(text in str(exc).lower() for text in _RETRYABLE_DB_ERRORS)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render every API error as JSON with a stable `code`."""
    if _is_retryable_db_error(exc):  # contention, not a fault: nothing was written, the client may retry
        busy = Response({"detail": "The database is busy; retry shortly.", "code": "database_busy"}, status=503)
        busy["Retry-After"] = "1"
        return busy
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
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
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Internal error; it has been logged.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
