"""GET and PUT /api/costs/budget: the monthly budget, its alert thresholds and hard limit."""

from __future__ import annotations

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsOrganizationAdmin
from accounts.selectors import organization_for_caller
from aragora_site.fields import (
    NoUnknownFieldsMixin,
    StrictBooleanField,
    StrictIntegerField,
    StrictMoneyField,
)
from aragora_site.schema import ERROR
from usage import selectors, validation
from usage.apis.common import MoneyField, OrganizationAPIView
from usage.models import default_alert_thresholds
from usage.services.budgets import budget_update


class BudgetApi(OrganizationAPIView):
    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        monthly_budget_usd = StrictMoneyField(allow_null=True, help_text="null removes the budget.")
        alert_thresholds = serializers.ListField(
            child=StrictIntegerField(min_value=1, max_value=validation.MAX_THRESHOLD),
            min_length=1,
            max_length=validation.MAX_THRESHOLDS,
            required=False,
            default=default_alert_thresholds,
        )
        hard_limit = StrictBooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer):
        monthly_budget_usd = MoneyField(allow_null=True)
        alert_thresholds = serializers.ListField(child=serializers.IntegerField())
        hard_limit = serializers.BooleanField()
        updated_at = serializers.DateTimeField(allow_null=True)

    def get_permissions(self) -> list:
        if self.request.method == "PUT":
            return [IsAuthenticated(), IsOrganizationAdmin()]
        return super().get_permissions()

    @extend_schema(summary="The monthly budget", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        org = organization_for_caller(caller=request.user)
        return Response(self.OutputSerializer(selectors.budget_for(organization=org)).data)

    @extend_schema(
        summary="Set the monthly budget (organization admins)",
        description="`monthly_budget_usd: null` removes the budget. Crossing a threshold alerts once per period.",
        request=InputSerializer,
        responses={200: OutputSerializer, 400: ERROR, 403: ERROR},
    )
    def put(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = organization_for_caller(caller=request.user)
        budget_update(organization=org, updated_by=request.user.db_user, **data.validated_data)
        return Response(self.OutputSerializer(selectors.budget_for(organization=org)).data)
