from django.urls import path

from usage.apis import budget, costs, events, prices

urlpatterns = [
    path("usage/events", events.UsageEventsApi.as_view(), name="usage-events"),
    path("usage/prices", prices.ModelPricesApi.as_view(), name="usage-prices"),
    path("usage/summary", costs.UsageSummaryApi.as_view(), name="usage-summary"),
    path("costs/summary", costs.CostSummaryApi.as_view(), name="costs-summary"),
    path("costs/timeseries", costs.CostTimeseriesApi.as_view(), name="costs-timeseries"),
    path("costs/breakdown", costs.CostBreakdownApi.as_view(), name="costs-breakdown"),
    path("costs/budget", budget.BudgetApi.as_view(), name="costs-budget"),
    path("costs/export.csv", costs.CostExportApi.as_view(), name="costs-export"),
]
