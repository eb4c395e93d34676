"""A small known book of leads for the insights tests: v4 leads of two businesses and three
categories with their lead prices, posted as Thumbtack would, and job statuses with invoices
pushed through the operator API. ``EXPECTED`` is what the figures must say about them, worked
out by hand."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.support.tackbridge import RunningServer

#: (lead ID, business, business name, category, lead price, customer)
LEADS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("ins-1", "B-ace", "Ace Plumbing", "Plumbing", "$25.00", "Olivia Young"),
    ("ins-2", "B-ace", "Ace Plumbing", "Plumbing", "$15.00", "Noah Smith"),
    ("ins-3", "B-ace", "Ace Plumbing", "Water Heater Repair", "$40.00", "Emma Jones"),
    ("ins-4", "B-sparkle", "Sparkle Cleaning", "House Cleaning", "$10.00", "Liam Brown"),
    ("ins-5", "B-sparkle", "Sparkle Cleaning", "House Cleaning", "$12.50", "<script>x</script>"),
)
#: (lead ID, job status, invoice cents), pushed in this order.
STATUSES: tuple[tuple[str, str, int | None], ...] = (
    ("ins-1", "appt_scheduled", None),
    ("ins-1", "job_complete", 120_000),
    ("ins-1", "invoice_paid", 125_000),
    ("ins-3", "appt_scheduled", None),
    ("ins-3", "job_complete", 60_000),
    ("ins-4", "appt_scheduled", None),
)
EXPECTED: dict[str, Any] = {
    "leads": 5,
    "spendCents": 10_250,
    "revenueCents": 185_000,
    "funnel": {"new": 5, "scheduled": 3, "complete": 2, "paid": 1},
    "byBusiness": {"B-ace": (3, 8000, 185_000), "B-sparkle": (2, 2250, 0)},
    "byCategory": {
        "Plumbing": (2, 4000, 125_000),
        "Water Heater Repair": (1, 4000, 60_000),
        "House Cleaning": (2, 2250, 0),
    },
}


def v4_lead(
    lead_id: str, business: str, business_name: str, category: str, price: str, customer: str
) -> dict[str, Any]:
    first, _, last = customer.partition(" ")
    return {
        "event": {
            "eventType": "NegotiationCreatedV4",
            "description": "A new lead was created",
            "webhookID": "wh_insights",
            "triggeredAt": "2026-11-30T17:18:01Z",
        },
        "data": {
            "negotiationID": lead_id,
            "status": "Open",
            "chargeState": "Charged",
            "leadPrice": price,
            "customer": {
                "customerID": f"cust-{lead_id}",
                "firstName": first,
                "lastName": last,
                "phone": "4155550123",
            },
            "business": {"businessID": business, "name": business_name},
            "request": {
                "requestID": f"req-{lead_id}",
                "description": f"{category} please",
                "category": {"categoryID": f"cat-{category}", "name": category},
                "location": {"city": "San Francisco", "state": "CA", "zipCode": "94117"},
            },
        },
    }


def seed(server: RunningServer) -> None:
    """Post every lead and push every job status; asserts each is accepted."""
    seed_with(server.partner, server.operator)


def seed_with(partner: httpx2.Client, operator: httpx2.Client) -> None:
    """``seed`` through a client authenticated as Thumbtack and one as an operator."""
    for lead in LEADS:
        answer = partner.post("/v4/webhooks", json=v4_lead(*lead))
        assert answer.status_code == 200, answer.text
    for lead_id, status, cents in STATUSES:
        body: dict[str, Any] = {"status": status}
        if cents is not None:
            body["invoiceAmountInCents"] = cents
        answer = operator.post(f"/api/leads/{lead_id}/job-status", json=body)
        assert answer.status_code in (200, 202), answer.text
