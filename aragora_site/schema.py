"""OpenAPI generation tweaks."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from aragora_site.fields import NoUnknownFieldsMixin

IDEMPOTENCY_KEY_MAX_LENGTH = 200
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    type={
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": r"^[!-~](?:[ -~]*[!-~])?$",
    },
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Optional, 1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters (no leading or trailing space). "
        "Repeating a request with the same key and the same parameters repeats no change at Stripe and answers "
        "the same; the same key with any other parameter (or for another operation) is refused with 409 "
        "`idempotency_conflict` before Stripe is called. Keys are per organization."
    ),
)


class ErrorSerializer(serializers.Serializer):
    """Every error response: a message, a stable code, and per-field messages for invalid input."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False)


ERROR = ErrorSerializer  # what every view declares for its error statuses


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> dict:
        """Bodies that refuse unknown keys say so: `additionalProperties: false`."""
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, NoUnknownFieldsMixin):
            schema["additionalProperties"] = False
        return schema

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        """Name nested serializers after their view (`LoginApi.InputSerializer` -> `LoginApiInput`), so the
        one-InputSerializer-per-view convention does not produce colliding component names."""
        qualname = type(serializer).__qualname__
        if "." in qualname and "<locals>" not in qualname:
            return qualname.replace(".", "")
        return super().get_serializer_name(serializer, direction)

    def _get_response_bodies(self, direction: str = "response") -> dict:
        """Document the errors every endpoint can answer, on top of what each view declares."""
        responses = super()._get_response_bodies(direction)
        codes = []
        if self.method in {"POST", "PUT", "PATCH"} or self.path_regex.count("<") or self.method == "GET":
            codes.append("400")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses
