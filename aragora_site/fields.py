"""Serializer fields that refuse wrong JSON types instead of coercing them, and bodies that refuse unknown keys."""

import re
from decimal import Decimal
from typing import Any

from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON parser reads exactly
# RFC 3339 date-time: seconds and an offset (or Z) are required; no bare dates, no local times.
RFC3339_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
DATETIME_HINT = "Must be an RFC 3339 date-time with a time zone, e.g. 2026-12-01T09:30:00Z."
CREDENTIAL_FIELDS = ("org_id", "organization", "organization_id")


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


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that accepts only JSON integers (not "5", 5.0 or true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a JSON string."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with a time zone, given as a JSON string (the OpenAPI `date-time` format)."""

    default_error_messages = {**serializers.DateTimeField.default_error_messages, "invalid": DATETIME_HINT}

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not RFC3339_DATETIME.fullmatch(value):
            self.fail("invalid")
        return super().to_internal_value(value)


# Amounts from 0.01 to 1,000,000,000 with at most two decimals, written plainly: no sign, exponent or spaces.
MONEY_PATTERN = r"^(?:[1-9]\d{0,8}(?:\.\d{1,2})?|0\.(?:0[1-9]|[1-9]\d?)|1000000000(?:\.00?)?)$"


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": MONEY_PATTERN,
        "description": "USD from 0.01 to 1000000000, at most two decimals.",
        "example": "250.00",
    }
)
class StrictMoneyField(serializers.Field):
    """A positive USD amount as a JSON string ("250.00"); "", "  ", "1e3", "-5" and JSON numbers are refused."""

    default_error_messages = {
        "invalid": 'Must be a string with an amount in USD from 0.01 to 1000000000, at most two decimals ("250.00").'
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(MONEY_PATTERN, data):
            self.fail("invalid")
        return Decimal(data).quantize(Decimal("0.01"))

    def to_representation(self, value: Decimal) -> str:
        return f"{value:.2f}"


class StrictURLField(StrictCharField):
    """An http(s) URL given as a JSON string."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2048)
        super().__init__(**kwargs)
        self.validators.append(URLValidator(schemes=["http", "https"], message="Enter an http(s) URL."))


class StrictCountField(serializers.Field):
    """A JSON integer from 0 to `maximum` (no strings, floats, booleans, NaN or Infinity)."""

    def __init__(self, *, maximum: int = MAX_SAFE_INTEGER, **kwargs: Any) -> None:
        self.maximum = maximum
        super().__init__(**kwargs)
        self.error_messages["invalid"] = f"Must be a whole number from 0 to {maximum}."

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data <= self.maximum:
            self.fail("invalid")
        return data

    def to_representation(self, value: int) -> int:
        return value


extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER})(StrictCountField)


class NoUnknownFieldsMixin:
    """Refuse keys the serializer does not know (a typo, or `org_id`, which only credentials may set)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError(
                    {
                        name: [
                            "The organization comes from the credentials."
                            if name in CREDENTIAL_FIELDS
                            else "Unknown field."
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)
