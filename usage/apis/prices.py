"""HTTP API for the price list: the price in force per model, every rate and where it came from."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from aragora_site.schema import ERROR
from usage import selectors, validation
from usage.apis.common import MoneyField, OrganizationAPIView


class RatesSerializer(serializers.Serializer):
    input = MoneyField()
    output = MoneyField()
    cache_read = MoneyField()
    cache_write = MoneyField()
    reasoning = MoneyField()


class ModelPricesApi(OrganizationAPIView):
    class QuerySerializer(serializers.Serializer):
        provider = serializers.CharField(required=False, default="", max_length=validation.PROVIDER_MAX_LENGTH)
        model = serializers.CharField(required=False, default="", max_length=validation.MODEL_MAX_LENGTH)

    class OutputSerializer(serializers.Serializer):
        provider = serializers.CharField()
        model = serializers.CharField()
        effective_from = serializers.DateTimeField()
        source = serializers.CharField(help_text='"staff" or the importer and its version.')
        rates = RatesSerializer(help_text="USD per million tokens; cache and reasoning tokens are parts of in/out.")
        long_context = inline_serializer(
            "LongContextPrice",
            fields={
                "threshold": serializers.IntegerField(help_text="Above this many input tokens these rates apply."),
                "rates": RatesSerializer(),
            },
            allow_null=True,
        )

    @extend_schema(
        summary="Prices in force",
        description="The price in force now for every model, with each dimension's rate and where it came from.",
        parameters=[
            OpenApiParameter("provider", str, description="Only this provider."),
            OpenApiParameter("model", str, description="Only models whose name contains this."),
        ],
        responses={200: OutputSerializer(many=True), 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        prices = selectors.prices_in_force(**params.validated_data)
        body = [
            {
                "provider": p.provider,
                "model": p.model,
                "effective_from": p.effective_from,
                "source": p.source,
                "rates": p.rates,
                "long_context": None
                if p.long_rates is None
                else {"threshold": p.long_context_threshold, "rates": p.long_rates},
            }
            for p in prices
        ]
        return Response(self.OutputSerializer(body, many=True).data)
