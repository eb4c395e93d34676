"""Insights benchmark: how long the dashboard's Insights page takes to compute its figures and
draw its charts for a store of N leads, against reading the same leads' rows alone.

Builds a fresh SQLite store (the real migrations) with ``--leads`` leads spread over 30 days,
three businesses with business hours, eight categories, first replies, lead prices and job
statuses with invoices, then times, best of ``--repeat`` runs each:

* baseline: ``SELECT`` of the leads' columns the figures need, rows fetched (the read nobody
  can avoid);
* facts: ``insights.facts.load_facts`` (the read, the job-status history, the hours and the
  Price Assurance deadline of each lead);
* figures: ``insights.figures.insights`` over the facts (pure);
* charts: the six pygal charts of the page (``dashboard.charts.Charts``).

    .venv/bin/python bench/insights.py --leads 1000,10000,50000 [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select

from tackbridge.autoreply.rules import validate_rule_set
from tackbridge.autoreply.store import save_rules
from tackbridge.core.clock import now as utc_now
from tackbridge.dashboard.charts import Charts
from tackbridge.insights.facts import Scope, load_facts
from tackbridge.insights.figures import insights
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.schema import businesses, lead_status_history, leads

CATEGORIES = (
    "Plumbing", "House Cleaning", "Roofing", "Interior Painting", "Electrical",
    "Water Heater Repair", "Deck Building", "Landscaping",
)  # fmt: skip
HOURS = {
    "time_zone": "America/New_York",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}],
}


def build(path: Path, count: int, seed: int = 7) -> tuple[str, datetime]:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(seed)
    end = utc_now().replace(microsecond=0)
    start = end - timedelta(days=30)
    business_ids = ("B-1", "B-2", "B-3")
    with engine.begin() as conn:
        conn.execute(
            insert(businesses),
            [
                {"business_id": b, "name": f"Business {b}", "created_at": end, "updated_at": end}
                for b in business_ids
            ],
        )
        rules = validate_rule_set({"default": {"template": "Hi", "business_hours": HOURS}})
        for b in business_ids[:2]:  # the third: no hours, every hour counts
            save_rules(conn, b, rules, end)
        rows, history = [], []
        for i in range(count):
            received = start + timedelta(seconds=rng.uniform(0, 30 * 86400))
            replied = rng.random() < 0.8
            reply_at = received + timedelta(seconds=rng.expovariate(1 / 600)) if replied else None
            lead_id = f"L{i}"
            rows.append(
                {
                    "lead_id": lead_id,
                    "business_id": rng.choice(business_ids),
                    "source": "v4",
                    "is_test": False,
                    "category": rng.choice(CATEGORIES),
                    "lead_price_cents": rng.randint(800, 6000),
                    "first_reply_at": reply_at,
                    "first_reply_by": rng.choice(("auto", "person")) if replied else None,
                    "received_at": received,
                    "updated_at": received,
                }
            )
            stage = rng.random()
            statuses = []
            if stage < 0.35:
                statuses.append(("appt_scheduled", None))
            if stage < 0.2:
                statuses.append(("job_complete", rng.randint(20_000, 400_000)))
            if stage < 0.12:
                statuses.append(("invoice_paid", statuses[-1][1]))
            for j, (status, cents) in enumerate(statuses):
                at = received + timedelta(days=j + 1)
                history.append(
                    {
                        "lead_id": lead_id,
                        "source": "job_status",
                        "job_status": status,
                        "invoice_amount_cents": cents,
                        "applied": True,
                        "occurred_at": at,
                        "recorded_at": at,
                    }
                )
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(leads), rows[chunk : chunk + 5000])
        for chunk in range(0, len(history), 5000):
            conn.execute(insert(lead_status_history), history[chunk : chunk + 5000])
    engine.dispose()
    return url, end


def best(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return min(times) * 1000, result


def measure(count: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url, end = build(Path(tmp) / "bench.db", count)
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp))  # type: ignore[call-arg]
        engine = create_engine(url)
        scope = Scope(since=end - timedelta(days=30), until=end + timedelta(seconds=1))
        columns = [
            leads.c.lead_id, leads.c.business_id, leads.c.category, leads.c.status,
            leads.c.job_status, leads.c.received_at, leads.c.first_reply_at,
            leads.c.first_reply_by, leads.c.lead_price_cents,
        ]  # fmt: skip
        with engine.connect() as conn:
            baseline_ms, rows = best(
                repeat, lambda: conn.execute(scope.apply(select(*columns))).all()
            )
            facts_ms, facts = best(repeat, lambda: load_facts(conn, settings, scope))
        figures_ms, figures = best(
            repeat, lambda: insights(facts, datetime.now(UTC), scope.since, scope.until)
        )
        charts_ms, _ = best(repeat, lambda: Charts(figures))
        engine.dispose()
    assert len(rows) == len(facts) == count, (len(rows), len(facts), count)
    return {
        "leads": count,
        "baseline_ms": baseline_ms,
        "facts_ms": facts_ms,
        "figures_ms": figures_ms,
        "charts_ms": charts_ms,
        "page_ms": facts_ms + figures_ms + charts_ms,
        "page_over_baseline": (facts_ms + figures_ms + charts_ms) / baseline_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(int(n), args.repeat) for n in args.leads.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    head = ("leads", "baseline read ms", "facts ms", "figures ms", "charts ms", "page ms")
    print("| " + " | ".join(head) + " | page / baseline |")
    print("|" + "|".join("-" * (len(h) + 1) + ":" for h in head) + "|----------------:|")
    for r in results:
        print(
            f"| {r['leads']:,} | {r['baseline_ms']:.0f} | {r['facts_ms']:.0f} | "
            f"{r['figures_ms']:.0f} | {r['charts_ms']:.0f} | {r['page_ms']:.0f} | "
            f"{r['page_over_baseline']:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
