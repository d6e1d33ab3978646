from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from billing.services import stripe_mirror
        from billing.stripe_client import configure_transport

        # dj-stripe's own admin actions and commands use the library's global API base.
        configure_transport()
        stripe_mirror.install()
