"""The insights page's charts, drawn by pygal as SVG from the figures of ``insights.figures``
(the page shows the same numbers as tables beside them).

Each chart is an image (``data:`` URI): pygal's SVG styles itself with an inline ``<style>``,
which the pages' Content-Security-Policy would refuse inline but an image document may use, and
its ``<script>`` (configuration for pygal's optional JavaScript, which the page never loads) is
taken out. Text in the SVG is escaped by the XML serializer; the image's ``alt`` says where the
numbers are.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pygal
from pygal.graph.graph import Graph
from pygal.style import Style

from tackbridge.insights.figures import Breakdown, Insights

__all__ = ["Chart", "Charts"]

_SVG = "{http://www.w3.org/2000/svg}"
# Colours with enough contrast on white, told apart without relying on hue alone by the legend.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    opacity=".9",
    opacity_hover="1",
    colors=("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#bc4c00"),
    font_family="system-ui, sans-serif",
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
)


def _config(title: str, **options: object) -> dict[str, object]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 720,
        "height": 340,
        "legend_at_bottom": True,
        "print_values": False,
        "show_minor_x_labels": True,
        "truncate_label": 20,
        "x_label_rotation": 0,
        **options,
    }


@dataclass(frozen=True)
class Chart:
    alt: str
    svg: str

    @property
    def uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def _svg(chart: Graph, alt: str) -> Chart:
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag in (f"{_SVG}script", "script"):
                parent.remove(child)
    rendered = pygal.etree.etree.tostring(tree, encoding="unicode")
    return Chart(alt, str(rendered))


def _dollars(cents: int) -> float:
    return round(cents / 100, 2)


def leads_per_day(figures: Insights) -> Chart:
    per_day = figures.leadsPerDay
    days = per_day.days
    chart = pygal.StackedBar(
        **_config(
            "Leads per day by category",
            x_label_rotation=30 if len(days) > 10 else 0,
            show_minor_x_labels=len(days) <= 14,
        )
    )
    chart.x_labels = [d.day.strftime("%b %d") for d in days]
    if len(days) > 14:
        chart.x_labels_major = chart.x_labels[:: max(1, len(days) // 10)]
    for category in per_day.categories:
        chart.add(category, [d.byCategory.get(category, 0) for d in days])
    return _svg(chart, "Leads per day by category: its numbers are in the table below")


def response_times(figures: Insights) -> Chart:
    chart = pygal.Bar(**_config("First reply: how long customers waited"))
    buckets = figures.responseBuckets
    chart.x_labels = [b.label for b in buckets]
    chart.add("Automatic reply", [b.auto for b in buckets])
    chart.add("The pro", [b.person for b in buckets])
    return _svg(chart, "First-reply times by who answered: its numbers are in the table below")


def price_assurance(figures: Insights) -> Chart:
    pa = figures.priceAssurance
    chart = pygal.Pie(**_config("Answered inside Price Assurance", inner_radius=0.5))
    chart.add("In time", pa.inside)
    chart.add("Late or unanswered", pa.late)
    chart.add("Still has time", pa.pending)
    return _svg(chart, "Leads answered inside Price Assurance: its numbers are in the table below")


def _money(title: str, rows: Sequence[Breakdown], label: str) -> Chart:
    chart = pygal.HorizontalBar(
        **_config(title, height=max(220, 80 + 44 * len(rows)), value_formatter=_usd)
    )
    chart.x_labels = [row.name for row in rows]
    chart.add("Lead spend", [_dollars(row.spendCents) for row in rows])
    chart.add("Invoiced revenue", [_dollars(row.revenueCents) for row in rows])
    return _svg(chart, label)


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def spend_by_category(figures: Insights) -> Chart:
    return _money(
        "Lead spend and invoiced revenue by category",
        figures.returnOnSpend.byCategory,
        "Spend and revenue by category: its numbers are in the table below",
    )


def spend_by_business(figures: Insights) -> Chart:
    return _money(
        "Lead spend and invoiced revenue by business",
        figures.returnOnSpend.byBusiness,
        "Spend and revenue by business: its numbers are in the table below",
    )


def funnel(figures: Insights) -> Chart:
    chart = pygal.HorizontalBar(**_config("From new lead to paid job", show_legend=False))
    stages = figures.funnel.stages
    chart.x_labels = [s.stage for s in stages]
    chart.add("Leads", [s.leads for s in stages])
    return _svg(
        chart,
        "The funnel new, replied, scheduled, complete, paid: its numbers are in the table below",
    )


class Charts:
    """Every chart of the page, rendered once."""

    def __init__(self, figures: Insights) -> None:
        self.leads_per_day = leads_per_day(figures)
        self.response_times = response_times(figures)
        self.price_assurance = price_assurance(figures)
        self.spend_by_category = spend_by_category(figures)
        self.spend_by_business = spend_by_business(figures)
        self.funnel = funnel(figures)
