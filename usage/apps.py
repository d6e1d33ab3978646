from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage and costs"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from usage.models import Budget, price_table_changed
        from usage.pricing import forget_price_table
        from usage.storage import forget_budgets

        # This process's writes reach its caches at once; other workers follow within their few seconds.
        price_table_changed.connect(lambda **kwargs: forget_price_table(), weak=False, dispatch_uid="price-table")
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: forget_budgets(), sender=Budget, weak=False, dispatch_uid=f"budgets-{signal}"
            )
