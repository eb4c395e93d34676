"""``/metrics`` as an operator's Prometheus scrapes it, with tackbridge and its sandbox on
loopback: a lead arrives, is replied to automatically and lands at its destination; the
scrape shows the delivery, the refusals, the job attempts, the first reply's latency, the
store's writes and the queue read from the store; a token that expired at Thumbtack shows as
a refresh. Behind the operator token."""

from __future__ import annotations

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Stack
from tests.support.tackbridge import WEBHOOK_AUTH

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(stack: Stack) -> Samples:
    answer = stack.operator.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have)
    )


def test_metrics_show_what_an_operator_watches(stack: Stack) -> None:
    # The counters are the process's (other tests' servers in it count too): deltas only.
    before = scrape(stack)

    def grew(samples: Samples, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    with httpx2.Client(base_url=stack.ports.tackbridge_url, timeout=10) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert anonymous.post("/v1/lead", json={}, auth=("thumbtack", "nope")).status_code == 401
        malformed = anonymous.post("/v1/lead", content=b"{", auth=WEBHOOK_AUTH)
        assert malformed.status_code == 400, malformed.text
    business = stack.business_ids()[0]
    stack.connect(business)
    lead_id = stack.new_lead(business)
    stack.wait(lambda: (stack.lead(lead_id) or {}).get("firstReplyAt"))
    stack.wait(lambda: value(scrape(stack), "tackbridge_jobs_due") == 0)

    samples = scrape(stack)
    assert (
        grew(samples, "tackbridge_deliveries_total", route="/v4/webhooks", outcome="accepted") >= 1
    )
    assert (
        grew(samples, "tackbridge_refusals_total", surface="operator", reason="unauthorized") >= 2
    )
    assert grew(samples, "tackbridge_refusals_total", surface="partner", reason="unauthorized") >= 1
    assert (
        grew(samples, "tackbridge_job_attempts_total", kind="thumbtack.message", outcome="done")
        >= 1
    )
    assert grew(samples, "tackbridge_job_attempt_seconds_count", kind="thumbtack.message") >= 1
    assert grew(samples, "tackbridge_first_reply_seconds_count", by="auto") >= 1
    assert grew(samples, "tackbridge_store_write_seconds_count") >= 1
    assert grew(samples, "tackbridge_store_write_units_total", outcome="ok") >= 1
    assert value(samples, "tackbridge_jobs_oldest_due_seconds") == 0
    assert (
        grew(samples, "tackbridge_refusals_total", surface="partner", reason="malformed-json") >= 1
    )
    assert grew(samples, "tackbridge_deliveries_total", route="/v1/lead", outcome="rejected") >= 1
    assert value(samples, "process_cpu_seconds_total") > 0  # the interpreter's own

    # The token expires at Thumbtack: the next reply refreshes it first.
    refreshed = value(samples, "tackbridge_token_refreshes_total", outcome="refreshed")
    assert (
        stack.sandbox.post("/_sandbox/clock/advance", json={"seconds": 3 * 86400}).status_code
        == 200
    )
    second = stack.new_lead(business)
    stack.wait(lambda: (stack.lead(second) or {}).get("firstReplyAt"))
    after = scrape(stack)
    assert value(after, "tackbridge_token_refreshes_total", outcome="refreshed") > refreshed
    assert value(after, "tackbridge_first_reply_seconds_count", by="auto") > value(
        samples, "tackbridge_first_reply_seconds_count", by="auto"
    )
    assert "dev-api-token" not in stack.operator.get("/metrics").text
