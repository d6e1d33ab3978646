"""The cost reads: usage and cost summaries, time series, breakdowns and the CSV export."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import organization_for_caller
from aragora_site.schema import ERROR
from billing.tiers import SubscriptionTier
from usage import selectors
from usage.apis.common import RANGE_PARAMETERS, MoneyField, OrganizationAPIView, RangeSerializer, date_range
from usage.exports import csv_response


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
        dates = date_range(request)
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
        params = date_range(request, self.QuerySerializer)
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
        params = date_range(request, self.QuerySerializer)
        org = organization_for_caller(caller=request.user)
        items = selectors.cost_breakdown(organization=org, by=params["by"], start=params["start"], end=params["end"])
        return Response(self.OutputSerializer({**params, "items": items}).data)


class CostExportApi(OrganizationAPIView):
    @extend_schema(
        summary="Export usage events as CSV",
        parameters=RANGE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: ERROR},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        dates = date_range(request)
        org = organization_for_caller(caller=request.user)
        return csv_response(organization=org, start=dates["start"], end=dates["end"])
