"""factory_boy factories for every model the tests need."""

import factory
from django.utils.text import slugify

from accounts.models import Organization, Role, User
from billing.tiers import SubscriptionTier

PASSWORD = "correct-horse-battery-staple-9"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    tier = SubscriptionTier.FREE

    @factory.post_generation
    def admin(org, create, extracted, **kwargs):
        """`OrganizationFactory(admin=True)` also creates its owner, an organization admin (`org.owner`)."""
        if create and extracted:
            org.owner = UserFactory(organization=org, role=Role.ADMIN, **kwargs)
            org.save(update_fields=["owner"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MEMBER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
