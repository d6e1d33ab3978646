from django.urls import path

from usage import apis, price_apis

urlpatterns = [
    path("usage/events", apis.UsageEventsApi.as_view(), name="usage-events"),
    path("usage/prices", price_apis.ModelPricesApi.as_view(), name="usage-prices"),
    path("usage/summary", apis.UsageSummaryApi.as_view(), name="usage-summary"),
    path("costs/summary", apis.CostSummaryApi.as_view(), name="costs-summary"),
    path("costs/timeseries", apis.CostTimeseriesApi.as_view(), name="costs-timeseries"),
    path("costs/breakdown", apis.CostBreakdownApi.as_view(), name="costs-breakdown"),
    path("costs/budget", apis.BudgetApi.as_view(), name="costs-budget"),
    path("costs/export.csv", apis.CostExportApi.as_view(), name="costs-export"),
]
