"""What the usage and cost endpoints share: the organization's view, money as exact strings, date ranges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import IsOrganizationMember
from usage.money import money_str
from usage.periods import default_range, range_error


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class MoneyField(serializers.Field):
    """A USD amount rendered as an exact decimal string ("0.00000014", "12.50")."""

    def to_representation(self, value: Decimal) -> str:
        return money_str(value)


class RangeSerializer(serializers.Serializer):
    """?start=YYYY-MM-DD&end=YYYY-MM-DD, whole UTC days, both included; default: the current period."""

    start = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])

    def to_internal_value(self, data: Any) -> Any:
        # DRF reads "?start=" as "not given"; a parameter that is present must be valid.
        blank = [name for name in self.fields if name in data and data.get(name) == ""]
        if blank:
            raise ValidationError({name: ["May not be blank."] for name in blank})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        default_start, default_end = default_range()
        start, end = attrs.get("start", default_start), attrs.get("end", default_end)
        if "start" in attrs and "end" not in attrs and start > default_end:
            end = start
        if problem := range_error(start, end):
            field, message = problem
            raise ValidationError({field: [message]})
        return {**attrs, "start": start, "end": end}


RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (UTC), default: start of the period."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (UTC, included), default: today."),
]


def date_range(request: Request, serializer: type[serializers.Serializer] = RangeSerializer) -> dict[str, Any]:
    params = serializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class OrganizationAPIView(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]
