"""The process's Prometheus metrics: what an operator watches (served at ``/metrics``).

Counters and histograms here count what *this process* did (prometheus-client's per-process
model): with several ``serve`` or ``worker`` processes, each is scraped on its own and the
series are summed at query time (``sum without (instance) (...)``). What must be the same for
every process, the state of the outbox, is not counted here at all: it is read from the store
at scrape time (``tackbridge.outbox.metrics``), so any process answers it for all of them.

Updating a metric on the hot path is one ``labels(...).inc()`` or ``observe()``: a dictionary
look-up and a locked add.

========================================  ============================================
``tackbridge_deliveries_total``           deliveries received, by route and outcome
``tackbridge_refusals_total``             requests refused, by surface and reason
``tackbridge_job_attempts_total``         outbox job attempts, by kind and outcome
``tackbridge_job_attempt_seconds``        time of an attempt (handler and settle), by kind
``tackbridge_first_reply_seconds``        lead received to its first reply, by who replied
``tackbridge_token_refreshes_total``      OAuth token refreshes, by outcome
``tackbridge_store_write_seconds``        one group commit of the store writer
``tackbridge_store_write_units_total``    units of work committed (deliveries, settles...)
========================================  ============================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

__all__ = [
    "DELIVERIES",
    "FIRST_REPLY",
    "JOB_ATTEMPTS",
    "JOB_ATTEMPT_SECONDS",
    "REFUSALS",
    "REGISTRY",
    "STORE_WRITE_SECONDS",
    "STORE_WRITE_UNITS",
    "TOKEN_REFRESHES",
]

# No ``*_created`` series beside every counter and histogram: a timestamp per label set that
# doubles the scrape and that no dashboard reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: The process's own registry (not prometheus-client's global one, which also carries the
#: interpreter's collectors: those are added where ``/metrics`` is served).
REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter(
    "tackbridge_deliveries",
    "Deliveries received on the partner and Coperniq webhook endpoints, by outcome "
    "(accepted, duplicate, pending, rejected, unauthorized, throttled, failed).",
    ["route", "outcome"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "tackbridge_refusals",
    "Requests refused, by surface (partner, coperniq, operator) and reason (the problem's "
    "slug: unauthorized, too-many-failures, body-too-large, malformed-json...).",
    ["surface", "reason"],
    registry=REGISTRY,
)
JOB_ATTEMPTS = Counter(
    "tackbridge_job_attempts",
    "Outbox job attempts by kind and outcome (done, retry, deferred, dead).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
JOB_ATTEMPT_SECONDS = Histogram(
    "tackbridge_job_attempt_seconds",
    "Duration of an outbox job attempt, from claim to settled, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
FIRST_REPLY = Histogram(
    "tackbridge_first_reply_seconds",
    "Seconds from a lead's arrival to its first reply, by who replied (auto, person).",
    ["by"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "tackbridge_token_refreshes",
    "OAuth token refreshes by outcome (refreshed, failed: to be retried, revoked: the "
    "business must reconnect).",
    ["outcome"],
    registry=REGISTRY,
)
STORE_WRITE_SECONDS = Histogram(
    "tackbridge_store_write_seconds",
    "Duration of one group commit of the store writer (a batch of units).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
    registry=REGISTRY,
)
STORE_WRITE_UNITS = Counter(
    "tackbridge_store_write_units",
    "Units of work the store writer committed (ok) or failed (failed).",
    ["outcome"],
    registry=REGISTRY,
)
