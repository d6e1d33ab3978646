"""The one money format for people: pages, admin and charts."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from usage.charts import _money_label
from usage.money import money_display

TOTALS = [
    (0, "$0.00"),
    (Decimal("0E-10"), "$0.00"),
    (Decimal("1e-10"), "$0.00"),
    (Decimal("0.004"), "$0.00"),
    (Decimal("0.005"), "$0.01"),
    (Decimal("15.7448037100"), "$15.74"),
    (Decimal("15.745"), "$15.75"),
    (Decimal("1234567.891"), "$1,234,567.89"),
    (Decimal("999999999.9999999999"), "$1,000,000,000.00"),
    (Decimal("-15.7448"), "-$15.74"),
    (Decimal("-0.001"), "$0.00"),
    ("12.5", "$12.50"),
    (7, "$7.00"),
    (None, "—"),
]

PER_EVENT = [
    (0, "$0.00"),
    (Decimal("0E-10"), "$0.00"),
    (Decimal("1e-10"), "$0.0000000001"),
    (Decimal("0.00000014"), "$0.00000014"),
    (Decimal("0.0000001449"), "$0.0000001449"),
    (Decimal("0.00000014495"), "$0.000000145"),
    (Decimal("0.0042"), "$0.0042"),
    (Decimal("0.0165"), "$0.0165"),
    (Decimal("0.00099996"), "$0.001"),
    (Decimal("0.5"), "$0.50"),
    (Decimal("1.23456"), "$1.235"),
    (Decimal("15.7448037100"), "$15.74"),
    (Decimal("1234567.891"), "$1,234,567.89"),
    (Decimal("-0.0042"), "-$0.0042"),
    (None, "—"),
]


@pytest.mark.parametrize(("value", "shown"), TOTALS)
def test_totals_show_two_decimals(value, shown):
    assert money_display(value) == shown


@pytest.mark.parametrize(("value", "shown"), PER_EVENT)
def test_per_event_costs_keep_four_significant_sub_cent_digits(value, shown):
    assert money_display(value, per_event=True) == shown


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=10))
def test_no_amount_is_ever_shown_in_exponent_notation(value):
    for per_event in (False, True):
        shown = money_display(value, per_event=per_event)
        assert "E" not in shown.upper() and shown.lstrip("-").startswith("$")


def test_not_a_number_is_refused():
    with pytest.raises(ValueError, match="Not an amount"):
        money_display(Decimal("NaN"))


def test_pages_and_charts_use_the_same_format():
    page = Template('{% load usage_format %}{{ total|usd }} {{ cost|usd:"event" }}').render(
        Context({"total": Decimal("15.7448037100"), "cost": Decimal("0.00000014")})
    )
    assert page == "$15.74 $0.00000014"
    assert _money_label(15.7448037100) == "$15.74"
    assert _money_label(0.0) == "$0.00"
