"""Serializers for tier data, shared by every API that shows an organization's plan."""

from rest_framework import serializers


class TierLimitsSerializer(serializers.Serializer):
    debates_per_month = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    users = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    api_access = serializers.BooleanField()
    all_agents = serializers.BooleanField()
    price_monthly_usd = serializers.DecimalField(max_digits=10, decimal_places=2)
