"""The models of usage, by topic: prices, events, rollups, budgets and their alerts."""

from usage.models.budgets import (
    DEFAULT_ALERT_THRESHOLDS,
    Budget,
    BudgetAlert,
    DeliveryStatus,
    default_alert_thresholds,
)
from usage.models.events import (
    MAX_COUNT,
    MAX_EVENT_COST,
    MAX_ROLLUP_COST,
    MAX_ROLLUP_COUNT,
    UsageEvent,
    UsageEventType,
)
from usage.models.prices import (
    LONG_RATES,
    OPTIONAL_RATES,
    RATE_DIGITS,
    RATE_PLACES,
    SEED_SOURCE,
    STAFF_SOURCE,
    ModelPrice,
    price_table_changed,
)
from usage.models.rollups import (
    RollupCounters,
    UsageDaily,
    UsageDailyModel,
    UsageDailyUser,
    UsageMonthly,
    UsageMonthlyApiKey,
)

__all__ = [
    "DEFAULT_ALERT_THRESHOLDS",
    "LONG_RATES",
    "MAX_COUNT",
    "MAX_EVENT_COST",
    "MAX_ROLLUP_COST",
    "MAX_ROLLUP_COUNT",
    "OPTIONAL_RATES",
    "RATE_DIGITS",
    "RATE_PLACES",
    "SEED_SOURCE",
    "STAFF_SOURCE",
    "Budget",
    "BudgetAlert",
    "DeliveryStatus",
    "ModelPrice",
    "RollupCounters",
    "UsageDaily",
    "UsageDailyModel",
    "UsageDailyUser",
    "UsageEvent",
    "UsageEventType",
    "UsageMonthly",
    "UsageMonthlyApiKey",
    "default_alert_thresholds",
    "price_table_changed",
]
