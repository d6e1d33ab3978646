"""The API's JSON parser: DRF's, with a size limit and a nesting limit, so no body can cost a 500."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

MAX_DEPTH = 32  # JSON arrays and objects nested deeper than this are refused


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(document: Any, limit: int = MAX_DEPTH) -> bool:
    """Return True when `document` nests arrays or objects more than `limit` deep (iteratively: no recursion)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    """Refuse bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (413) and documents nested too deeply (400)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            # The whole body at once: DRF's streaming decoder costs more than the parse of a large batch.
            document = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.") from exc
        except ValueError as exc:  # malformed JSON, NaN or Infinity, or bytes that are not text
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _too_deep(document):
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep.")
        return document
