"""Serializer fields that refuse wrong JSON types instead of coercing them."""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that accepts only JSON strings (DRF's would turn 123 or true into text)."""

    default_error_messages = {**serializers.CharField.default_error_messages, "invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data).strip().lower()


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that accepts only JSON true/false."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data
