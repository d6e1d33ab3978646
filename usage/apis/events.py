"""POST /api/usage/events: one event or a batch, read by the service's rules once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import organization_for_caller
from aragora_site.fields import (
    NoUnknownFieldsMixin,
    StrictCharField,
    StrictCountField,
    StrictDateTimeField,
    StrictUUIDField,
)
from aragora_site.schema import ERROR
from usage import validation
from usage.apis.common import MoneyField, OrganizationAPIView
from usage.event_json import events_from_json
from usage.models import MAX_COUNT, UsageEventType
from usage.services.recording import usage_events_record


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
