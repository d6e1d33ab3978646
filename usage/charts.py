"""Server-side charts (pygal, rendered to inline SVG: no JavaScript, no CDN)."""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

from usage.money import money_display

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#475569",
    foreground_strong="#0f172a",
    foreground_subtle="#e2e8f0",
    opacity="0.9",
    opacity_hover="1",
    colors=("#4f46e5",),
    font_family="Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    tooltip_font_size=12,
)


def _money_label(value: float) -> str:
    return money_display(value)


def daily_cost_chart(points: list[dict[str, Any]]) -> str:
    """Return an SVG bar chart of cost per day (points from selectors.cost_timeseries)."""
    chart = pygal.Bar(
        style=_STYLE,
        width=960,
        height=300,
        show_legend=False,
        show_y_guides=True,
        show_x_guides=False,
        show_minor_x_labels=False,
        x_label_rotation=0,
        truncate_label=-1,
        margin=8,
        spacing=6,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        value_formatter=_money_label,
        no_data_text="No usage in this range",
        classes=("pygal-chart", "usage-daily-chart"),
    )
    labels = [p["period"][5:] for p in points]  # MM-DD
    chart.x_labels = labels
    step = max(1, len(labels) // 10)
    chart.x_labels_major = labels[::step]
    chart.add("Cost (USD)", [float(p["cost"]) for p in points])
    # pygal always embeds its tooltip config as a <script>; the page needs none (and a strict CSP allows none).
    return _SCRIPT.sub("", chart.render(is_unicode=True))
