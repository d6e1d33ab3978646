"""factory_boy factories for usage models."""

from decimal import Decimal

import factory
from django.utils import timezone

from tests.factories import OrganizationFactory
from usage.models import Budget, ModelPrice


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    provider = "acme"
    model = factory.Sequence(lambda n: f"acme-model-{n}")
    display_name = factory.LazyAttribute(lambda o: o.model)
    input_per_million = Decimal("1.00")
    output_per_million = Decimal("2.00")
    effective_from = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=1))


class BudgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Budget

    organization = factory.SubFactory(OrganizationFactory)
    monthly_budget_usd = Decimal("100.00")
    alert_thresholds = factory.LazyFunction(lambda: [50, 80, 100])
    hard_limit = False
