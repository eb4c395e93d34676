"""The insights charts (pygal SVG from the figures) and the CRM destination form (built from
the destination registry), without a server."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from tackbridge.crm.destinations import DESTINATION_TYPES
from tackbridge.dashboard.charts import Charts
from tackbridge.dashboard.destination_form import body_of, form_fields, label_of
from tackbridge.insights.figures import LeadFact, insights

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _figures() -> Charts:
    facts = [
        LeadFact(
            lead_id=f"L{i}",
            received_at=T0 + timedelta(days=i % 3),
            business_id="B1",
            business_name="Ace <Plumbing>",
            category=("Plumbing", "Roof <script>alert(1)</script>")[i % 2],
            lead_price_cents=2500,
            invoice_cents=100_000 if i == 0 else None,
            first_reply_at=T0 + timedelta(days=i % 3, seconds=5),
            first_reply_by="auto",
            price_assurance_due=T0 + timedelta(days=i % 3, hours=4),
        )
        for i in range(6)
    ]
    return Charts(insights(facts, T0 + timedelta(days=5)))


def test_every_chart_is_an_svg_image_without_script_with_its_text_escaped() -> None:
    charts = _figures()
    drawn = [
        charts.leads_per_day,
        charts.response_times,
        charts.price_assurance,
        charts.spend_by_category,
        charts.spend_by_business,
        charts.funnel,
    ]
    for chart in drawn:
        assert chart.svg.startswith("<svg")
        assert "<script" not in chart.svg
        assert chart.alt.endswith("its numbers are in the table below")
        assert base64.b64decode(chart.uri.split(",", 1)[1]).decode() == chart.svg
    assert "Roof &lt;script&gt;" in charts.leads_per_day.svg
    assert "Plumbing" in charts.spend_by_category.svg
    assert "Ace &lt;Plumbing&gt;" in charts.spend_by_business.svg
    assert "$1,000.00" in charts.spend_by_category.svg  # the revenue, as money


def test_the_destination_form_has_every_types_fields() -> None:
    fields = {f.name: f for f in form_fields(DESTINATION_TYPES)}
    assert fields["webhookUrl"].kind == "text"
    assert fields["webhookSecret"].kind == "secret"
    assert fields["coperniqApiKey"].label == "Coperniq API key"
    match_by = ("title", "primaryEmail", "primaryPhone", "address")
    assert fields["coperniq.matchBy"].choices == match_by
    assert fields["coperniq.allowNewOptions"].choices == ("true", "false")
    assert label_of("matchFoundStrategy") == "Match found strategy"


def test_a_submitted_form_is_the_api_body() -> None:
    body = body_of(
        DESTINATION_TYPES,
        {
            "kind": "coperniq",
            "coperniq.matchBy": "address",
            "coperniq.allowNewOptions": "false",
            "coperniq.baseUrl": "  ",
            "coperniqApiKey": "key-1",
            "webhookUrl": "",
        },
    )
    assert body == {
        "kind": "coperniq",
        "coperniq": {"matchBy": "address", "allowNewOptions": False},
        "coperniqApiKey": "key-1",
    }
    DESTINATION_TYPES.request_model.model_validate(body)  # the API takes it as it is
