"""The reads of the back office's home page: each one bounded (an aggregate or a LIMIT), never a loop over rows.

MRR is the monthly list price of the tier in force, summed over organizations whose Stripe subscription is still
billing (status active, past_due or unpaid): trials have not paid yet, and canceled or incomplete subscriptions
do not pay. An organization whose grace period has run out counts as free even before the sweep records it.
Discounts, taxes and proration are Stripe's and are not reflected; organizations on a paid tier without a
subscription (a staff override) are counted in the plan mix but not in MRR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, F, Max, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Organization, RevokedToken
from aragora_site.models import AuditEntry
from billing.models import Notification, NotificationStatus
from billing.services.subscriptions import DUNNING_STATUSES
from billing.tiers import TIER_LIMITS, SubscriptionTier
from usage.models import UsageEvent, UsageMonthly
from usage.periods import day_range_bounds, month_key, period_bounds

BILLING_STATUSES = frozenset({"active"}) | DUNNING_STATUSES
LIST_LIMIT = 10


@dataclass(frozen=True)
class PlanRow:
    tier: SubscriptionTier
    organizations: int
    paying: int
    price: Decimal

    @property
    def mrr(self) -> Decimal:
        return self.price * self.paying


@dataclass(frozen=True)
class PlanMix:
    rows: list[PlanRow]

    @property
    def mrr(self) -> Decimal:
        return sum((row.mrr for row in self.rows), Decimal(0))

    @property
    def organizations(self) -> int:
        return sum(row.organizations for row in self.rows)

    @property
    def paying(self) -> int:
        return sum(row.paying for row in self.rows if row.price)


def _tier_in_force(now: datetime) -> Case:
    """The tier in force in SQL, as Organization.effective_tier computes it in Python."""
    return Case(
        When(grace_until__lte=now, then=Value(SubscriptionTier.FREE.value)),
        default=F("tier"),
        output_field=CharField(),
    )


def plan_mix(*, now: datetime | None = None) -> PlanMix:
    """Return organizations and paying subscriptions per tier in force, with MRR (one grouped query)."""
    counts = {
        row["tier_now"]: row
        for row in Organization.objects.annotate(tier_now=_tier_in_force(now or timezone.now()))
        .values("tier_now")
        .annotate(organizations=Count("pk"), paying=Count("pk", filter=Q(subscription_status__in=BILLING_STATUSES)))
        .order_by()
    }
    rows = []
    for tier, limits in TIER_LIMITS.items():
        row = counts.get(tier.value, {})
        paying = row.get("paying", 0) if limits.price_monthly_usd else 0
        rows.append(PlanRow(tier, row.get("organizations", 0), paying, limits.price_monthly_usd))
    return PlanMix(rows)


def organizations_at_risk(*, limit: int = LIST_LIMIT) -> tuple[list[Organization], int]:
    """Return organizations in a grace period or with a past-due or unpaid subscription, soonest end first,
    and how many there are in all."""
    rows = Organization.objects.filter(Q(grace_until__isnull=False) | Q(subscription_status__in=DUNNING_STATUSES))
    ordered = rows.order_by(F("grace_until").asc(nulls_last=True), "name")
    return list(ordered[:limit]), rows.count()


def current_month() -> tuple[str, datetime, datetime]:
    """Return this usage period's month key and its [start, end) instants."""
    first, last = period_bounds()
    start, end = day_range_bounds(first, last)
    return month_key(first), start, end


def top_spenders(*, month: str, limit: int = LIST_LIMIT) -> QuerySet[UsageMonthly]:
    """Return the month's most expensive organizations, from the monthly rollup."""
    rows = UsageMonthly.objects.filter(month=month, total_cost__gt=0).select_related("organization")
    return rows.order_by("-total_cost", "organization__name")[:limit]


def unpriced_models(*, start: datetime, end: datetime, limit: int = LIST_LIMIT * 2) -> list[dict[str, Any]]:
    """Return provider/model pairs priced by a fallback in [start, end), with events, organizations, last seen."""
    rows = (
        UsageEvent.objects.filter(unpriced=True, created_at__gte=start, created_at__lt=end)
        .values("provider", "model")
        .annotate(events=Count("pk"), organizations=Count("organization", distinct=True), last_seen=Max("created_at"))
        .order_by("-events", "provider", "model")
    )
    return list(rows[:limit])


def notifications_failed(*, limit: int = LIST_LIMIT) -> tuple[list[Notification], int]:
    """Return the latest notifications that gave up, and how many there are in all."""
    rows = Notification.objects.filter(status=NotificationStatus.FAILED)
    return list(rows.select_related("organization").order_by("-created_at")[:limit]), rows.count()


def revocations_recent(*, limit: int = LIST_LIMIT) -> list[RevokedToken]:
    """Return the latest revoked tokens with their users."""
    return list(RevokedToken.objects.select_related("user").order_by("-revoked_at")[:limit])


def audit_recent(*, limit: int = LIST_LIMIT) -> list[AuditEntry]:
    """Return the latest staff actions."""
    return list(AuditEntry.objects.select_related("organization").order_by("-created_at", "-id")[:limit])


# Each section of the home page and the view permission it needs: staff see only what they may open.
SECTIONS = {
    "plans": "accounts.view_organization",
    "at_risk": "accounts.view_organization",
    "top_spenders": "usage.view_usagemonthly",
    "unpriced": "usage.view_usageevent",
    "failed_notifications": "billing.view_notification",
    "revocations": "accounts.view_revokedtoken",
    "audit": "aragora_site.view_auditentry",
}


def staff_overview(*, user: Any) -> dict[str, Any]:
    """Return the home page's sections this member of staff may see (about a dozen queries, whatever the data)."""
    allowed = {name for name, permission in SECTIONS.items() if user.has_perm(permission)}
    month, start, end = current_month()
    overview: dict[str, Any] = {"month": month, "month_start": start}
    if "plans" in allowed:
        overview["plans"] = plan_mix()
    if "at_risk" in allowed:
        overview["at_risk"], overview["at_risk_count"] = organizations_at_risk()
    if "top_spenders" in allowed:
        overview["top_spenders"] = list(top_spenders(month=month))
    if "unpriced" in allowed:
        overview["unpriced"] = unpriced_models(start=start, end=end)
    if "failed_notifications" in allowed:
        overview["failed_notifications"], overview["failed_count"] = notifications_failed()
    if "revocations" in allowed:
        overview["revocations"] = revocations_recent()
    if "audit" in allowed:
        overview["audit"] = audit_recent()
    return overview
