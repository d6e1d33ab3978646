"""GET /api/health: do the database (a read and a write) and the cache answer?"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aragora_site.errors import classify_fault
from aragora_site.models import HealthProbe


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        fault = classify_fault(exc)
        return {"ok": False, "error": fault.code if fault else type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    """Read and write one row: a full disk lets reads through but refuses writes."""
    with transaction.atomic():
        HealthProbe.objects.update_or_create(pk=1, defaults={"written_at": timezone.now()})


def _cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, 1, 5)
    if cache.get(key) != 1:
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


HEALTH = inline_serializer(
    "Health",
    fields={"status": serializers.CharField(), "database": serializers.DictField(), "cache": serializers.DictField()},
)


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        responses={200: HEALTH, 503: HEALTH},
    )
    def get(self, request: Request) -> Response:
        database, cache_state = _check(_database), _check(_cache)
        healthy = database["ok"] and cache_state["ok"]
        body = {
            "status": "ok" if healthy else "degraded",
            "database": {"vendor": connection.vendor, **database},
            "cache": {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1], **cache_state},
        }
        response = Response(body, status=200 if healthy else 503)
        if not healthy:
            response["Retry-After"] = "5"
        return response
