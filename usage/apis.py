"""HTTP API for usage metering and cost visibility. The organization always comes from the credentials."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOrganizationAdmin, IsOrganizationMember
from accounts.selectors import organization_for_caller
from aragora_site.fields import (
    NoUnknownFieldsMixin,
    StrictBooleanField,
    StrictCharField,
    StrictCountField,
    StrictDateTimeField,
    StrictIntegerField,
    StrictMoneyField,
    StrictUUIDField,
)
from aragora_site.schema import ERROR
from billing.tiers import SubscriptionTier
from usage import selectors, validation
from usage.event_json import events_from_json
from usage.exports import csv_response
from usage.models import MAX_COUNT, UsageEventType, default_alert_thresholds
from usage.money import money_str
from usage.periods import default_range, range_error
from usage.services.budgets import budget_update
from usage.services.recording import usage_events_record


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


def _range(request: Request, serializer: type[serializers.Serializer] = RangeSerializer) -> dict[str, Any]:
    params = serializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class OrganizationAPIView(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------
class EventInputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
    event_type = serializers.ChoiceField(choices=UsageEventType.choices)
    provider = StrictCharField(max_length=validation.PROVIDER_MAX_LENGTH, required=False, allow_blank=True, default="")
    model = StrictCharField(max_length=validation.MODEL_MAX_LENGTH, required=False, allow_blank=True, default="")
    tokens_in = StrictCountField(maximum=MAX_COUNT, required=False, default=0)
    tokens_out = StrictCountField(maximum=MAX_COUNT, required=False, default=0)
    user_id = StrictUUIDField(required=False, allow_null=True, default=None, help_text="A member of your organization.")
    metadata = serializers.DictField(required=False, default=dict)
    idempotency_key = StrictCharField(
        max_length=validation.IDEMPOTENCY_KEY_MAX_LENGTH,
        required=False,
        allow_null=True,
        default=None,
        trim_whitespace=False,
    )
    occurred_at = StrictDateTimeField(required=False, allow_null=True, default=None)
    cache_read_tokens = StrictCountField(
        maximum=MAX_COUNT, required=False, default=0, help_text="Part of tokens_in read from the prompt cache."
    )
    cache_write_tokens = StrictCountField(
        maximum=MAX_COUNT, required=False, default=0, help_text="Part of tokens_in written to the prompt cache."
    )
    reasoning_tokens = StrictCountField(
        maximum=MAX_COUNT, required=False, default=0, help_text="Part of tokens_out spent on reasoning."
    )
    usage = serializers.DictField(
        required=False,
        default=None,
        help_text="The provider's usage block as it came (OpenAI, Anthropic or Gemini), instead of token counts.",
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and "usage" in data:
            given = sorted(set(data) & set(validation.COUNT_FIELDS))
            if given:
                raise ValidationError(
                    {"usage": [f"Send either a provider usage block or token counts ({', '.join(given)}), not both."]}
                )
        return super().to_internal_value(data)


class UsageEventsApi(OrganizationAPIView):
    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        events = serializers.ListField(child=EventInputSerializer(), min_length=1, max_length=1000)

    class OutputSerializer(serializers.Serializer):
        recorded = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        total_cost = MoneyField()
        duplicate_indexes = serializers.ListField(
            child=serializers.IntegerField(), help_text="Positions of the events that were duplicates (recorded once)."
        )
        events = inline_serializer(
            "RecordedEvent",
            fields={
                "id": serializers.UUIDField(),
                "cost_usd": MoneyField(),
                "unpriced": serializers.BooleanField(),
                "duplicate": serializers.BooleanField(),
            },
            many=True,
            required=False,
            help_text="One receipt per event, in order: for a single event, or a batch sent with ?receipts=true.",
        )

    @extend_schema(
        summary="Record usage events",
        description=(
            'One event, or `{"events": [...]}` with up to 1000, recorded all-or-nothing. An `idempotency_key` '
            "makes retries safe: the same key with the same body is a duplicate (recorded once), with a different "
            "body a 409. A `debate` event consumes one of the tier's monthly debates (402 `quota_exceeded` at the "
            "limit; 402 `budget_exceeded` when the budget is a hard limit and is spent). Costs are computed here. "
            "A batch's answer counts what was recorded and lists the positions of duplicates; add `?receipts=true` "
            "for each event's id and cost."
        ),
        parameters=[
            OpenApiParameter("receipts", bool, description="Add a receipt per event to a batch's answer."),
        ],
        request=PolymorphicProxySerializer(
            component_name="UsageEventsRequest",
            serializers=[EventInputSerializer, InputSerializer],
            resource_type_field_name=None,
        ),
        responses={201: OutputSerializer, 400: ERROR, 402: ERROR, 409: ERROR},
    )
    def post(self, request: Request) -> Response:
        receipts = _wants_receipts(request)
        events, batch, errors = events_from_json(request.data)
        if errors:
            raise ValidationError(errors)
        org = organization_for_caller(caller=request.user)
        try:
            result = usage_events_record(organization=org, events=events, api_key_id=request.user.api_key_id)
        except validation.UsageValidationError as exc:
            problems = {str(i): fields for i, fields in exc.errors.items()}
            raise ValidationError({"events": problems} if batch else next(iter(problems.values()))) from exc
        body = {
            "recorded": result.recorded,
            "duplicates": result.duplicates,
            "total_cost": result.total_cost,
            "duplicate_indexes": [i for i, duplicate in enumerate(result.duplicate) if duplicate],
        }
        if not batch or receipts:
            body["events"] = [
                {"id": event_id, "cost_usd": cost, "unpriced": unpriced, "duplicate": duplicate}
                for event_id, cost, unpriced, duplicate in result.receipts()
            ]
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


def _wants_receipts(request: Request) -> bool:
    if "receipts" not in request.query_params:
        return False
    value = request.query_params["receipts"]
    if value not in ("true", "false"):
        raise ValidationError({"receipts": ["Must be true or false."]})
    return value == "true"


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def _part_fields() -> dict[str, serializers.Field]:
    return {name: serializers.IntegerField() for name in selectors.PARTS}


class UsageBreakdownEntrySerializer(serializers.Serializer):
    events = serializers.IntegerField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cost = MoneyField()


class UsageSummaryApi(OrganizationAPIView):
    class OutputSerializer(serializers.Serializer):
        org_id = serializers.UUIDField()
        start_date = serializers.DateField()
        end_date = serializers.DateField()
        total_events = serializers.IntegerField()
        total_debates = serializers.IntegerField()
        total_api_calls = serializers.IntegerField()
        tokens_in = serializers.IntegerField()
        tokens_out = serializers.IntegerField()
        total_tokens = serializers.IntegerField()
        cache_read_tokens = serializers.IntegerField()
        cache_write_tokens = serializers.IntegerField()
        reasoning_tokens = serializers.IntegerField()
        total_cost = MoneyField()
        by_provider = serializers.DictField(child=UsageBreakdownEntrySerializer())
        by_model = serializers.DictField(child=UsageBreakdownEntrySerializer())

    @extend_schema(
        summary="Usage summary",
        parameters=RANGE_PARAMETERS,
        responses={200: OutputSerializer, 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        dates = _range(request)
        org = organization_for_caller(caller=request.user)
        summary = selectors.usage_summary(organization_id=org.pk, start=dates["start"], end=dates["end"])
        return Response(self.OutputSerializer(summary).data)


class CostSummaryApi(OrganizationAPIView):
    class OutputSerializer(serializers.Serializer):
        period_start = serializers.DateField()
        period_end = serializers.DateField()
        as_of = serializers.DateTimeField()
        spend = MoneyField()
        budget = MoneyField(allow_null=True)
        percent_used = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        forecast = MoneyField(
            allow_null=True,
            help_text="Spend at period end if the pace so far continues; null in the period's first two days.",
        )
        forecast_percent = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        hard_limit = serializers.BooleanField()
        alert_thresholds = serializers.ListField(child=serializers.IntegerField())
        events = serializers.IntegerField()
        total_tokens = serializers.IntegerField()
        debates_used = serializers.IntegerField()
        debates_limit = serializers.IntegerField(allow_null=True)
        debates_remaining = serializers.IntegerField(allow_null=True)
        tier = serializers.ChoiceField(choices=SubscriptionTier.choices)

    @extend_schema(summary="Spend this period against the budget", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        org = organization_for_caller(caller=request.user)
        return Response(self.OutputSerializer(selectors.cost_summary(organization=org)).data)


class CostTimeseriesApi(OrganizationAPIView):
    class QuerySerializer(RangeSerializer):
        granularity = serializers.ChoiceField(choices=["day", "month"], required=False, default="day")

    class OutputSerializer(serializers.Serializer):
        start = serializers.DateField()
        end = serializers.DateField()
        granularity = serializers.CharField()
        points = inline_serializer(
            "CostPoint",
            fields={
                "period": serializers.CharField(help_text="YYYY-MM-DD or YYYY-MM"),
                "cost": MoneyField(),
                "tokens": serializers.IntegerField(),
                "debates": serializers.IntegerField(),
                "events": serializers.IntegerField(),
                **_part_fields(),
            },
            many=True,
        )

    @extend_schema(
        summary="Cost over time",
        parameters=[*RANGE_PARAMETERS, OpenApiParameter("granularity", str, enum=["day", "month"])],
        responses={200: OutputSerializer, 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        params = _range(request, self.QuerySerializer)
        org = organization_for_caller(caller=request.user)
        points = selectors.cost_timeseries(
            organization_id=org.pk, start=params["start"], end=params["end"], granularity=params["granularity"]
        )
        body = {"start": params["start"], "end": params["end"], "granularity": params["granularity"], "points": points}
        return Response(self.OutputSerializer(body).data)


class CostBreakdownApi(OrganizationAPIView):
    class QuerySerializer(RangeSerializer):
        by = serializers.ChoiceField(choices=sorted(selectors.BREAKDOWNS), required=False, default="provider")

    class OutputSerializer(serializers.Serializer):
        by = serializers.CharField()
        start = serializers.DateField()
        end = serializers.DateField()
        items = inline_serializer(
            "CostBreakdownItem",
            fields={
                "key": serializers.CharField(help_text='Provider, model or user id ("" when none was given).'),
                "label": serializers.CharField(),
                "cost": MoneyField(),
                "tokens": serializers.IntegerField(),
                "tokens_in": serializers.IntegerField(),
                "tokens_out": serializers.IntegerField(),
                "events": serializers.IntegerField(),
                "debates": serializers.IntegerField(),
                **_part_fields(),
            },
            many=True,
        )

    @extend_schema(
        summary="Cost by provider, model or user",
        parameters=[*RANGE_PARAMETERS, OpenApiParameter("by", str, enum=sorted(selectors.BREAKDOWNS))],
        responses={200: OutputSerializer, 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        params = _range(request, self.QuerySerializer)
        org = organization_for_caller(caller=request.user)
        items = selectors.cost_breakdown(organization=org, by=params["by"], start=params["start"], end=params["end"])
        return Response(self.OutputSerializer({**params, "items": items}).data)


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


class CostExportApi(OrganizationAPIView):
    @extend_schema(
        summary="Export usage events as CSV",
        parameters=RANGE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: ERROR},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        dates = _range(request)
        org = organization_for_caller(caller=request.user)
        return csv_response(organization=org, start=dates["start"], end=dates["end"])
