"""Several processes on one PostgreSQL: two ``tackbridge serve`` (worker off) behind a proxy that
hands every delivery to both, and two ``tackbridge worker`` processes, against the sandbox. A
burst of leads is stored once each, every job is claimed and run once (one attempt each, by one
of the two workers), the sandbox sees one first reply per lead, and the access token that
expired just before the burst is refreshed once for both workers. Every customer answers the
first reply: each answer, delivered to both serve processes, is stored once and noted in the CRM
once."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select

from tackbridge.devstack import Ports, connect_demo_business, product_settings, sandbox_config
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.store.schema import delivery_attempts, leads, outbox
from tackbridge.store.schema import messages as messages_table
from tests.support import stores
from tests.support.connections import expire_access_token
from tests.support.processes import FanOut, tackbridge_process, wait_healthy
from tests.support.sandbox import wait_until
from tests.support.servers import free_port, serve
from tests.support.tackbridge import API_TOKEN, make_settings

pytestmark = pytest.mark.postgres_only

LEADS = 30


def test_two_serve_and_two_worker_processes_share_the_work(tmp_path: Path) -> None:
    url = stores.url(tmp_path / "shared", store="postgres")
    serve_ports = [free_port(), free_port()]
    proxy_port, sandbox_port = free_port(), free_port()
    # The sandbox and the pro's browser reach tackbridge through the proxy (its public URL).
    ports = Ports(tackbridge=proxy_port, sandbox=sandbox_port)
    base = make_settings(
        tmp_path / "data",
        database_url=url,
        secret_key=Fernet.generate_key().decode(),
        run_worker=False,
        worker_concurrency=2,
        worker_poll_seconds=5.0,  # woken by NOTIFY; a poll this slow would not keep up
    )
    settings = product_settings(ports, base=base)
    upstreams = [f"http://127.0.0.1:{p}" for p in serve_ports]
    proxy = FanOut(upstreams)
    engine = create_engine(url)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        # Every customer answers the first reply (2 s later): more work shared by the processes,
        # and a known count of it, so that the test can tell when the sandbox has done its part.
        config = replace(sandbox_config(ports, settings, lead_rate=0, seed=11), reply_rate=1.0)
        stack.enter_context(serve(create_sandbox(config), port=sandbox_port))
        stack.enter_context(serve(proxy.app, port=proxy_port))
        for i, port in enumerate(serve_ports):
            log = tmp_path / f"serve{i}.log"
            process = stack.enter_context(
                tackbridge_process(settings, ["serve", "--port", str(port)], log)
            )
            wait_healthy(upstreams[i], process, log)
        sandbox = stack.enter_context(httpx2.Client(base_url=ports.sandbox_url, timeout=10))
        business = sandbox.get("/_sandbox/businesses").json()[0]["businessID"]
        asyncio.run(connect_demo_business(upstreams[0], API_TOKEN, business_id=business))
        workers = [
            stack.enter_context(tackbridge_process(settings, ["worker"], tmp_path / f"w{i}.log"))
            for i in range(2)
        ]

        def registered() -> bool:
            hooks = sandbox.get("/_sandbox/webhooks").json()
            return any(h["businessID"] == business and h["deletedAt"] is None for h in hooks)

        # The webhook is registered by a job, in one of the workers; the sandbox delivers there.
        wait_until(registered, timeout=60)

        def refreshes() -> int:
            return sum(
                1
                for h in sandbox.get("/_sandbox/happenings").json()
                if h["text"].startswith("v4 tokens issued")
                and h["text"].endswith("(refresh_token)")
            )

        refreshed_before = refreshes()
        expire_access_token(settings, business)  # every worker's next job needs a new token

        lead_ids = []
        for _ in range(LEADS):
            created = sandbox.post("/_sandbox/leads", json={"businessID": business})
            assert created.status_code == 201, created.text
            lead_ids.append(str(created.json()["leadID"]))

        def messages(sender: str) -> dict[str, int]:
            sent = sandbox.get("/_sandbox/messages", params={"from": sender}).json()
            counts: dict[str, int] = {}
            for message in sent:
                counts[str(message["leadID"])] = counts.get(str(message["leadID"]), 0) + 1
            return counts

        def replies() -> dict[str, int]:
            return messages("Business")

        def deliveries() -> dict[str, int]:
            counts: dict[str, int] = sandbox.get("/_sandbox/summary").json()["deliveries"]
            return counts

        def settled() -> bool:
            """Nothing more to come: the sandbox's timed events have all fired, it has no
            delivery pending, and no job is open; the sandbox is asked before and after the
            outbox, and must have made no delivery in between (a job finishing just before the
            outbox was read may have set one off). Open jobs alone are not enough: a delivery
            acknowledged a moment later queues new ones (a customer's answer, a Coperniq
            event)."""
            for worker in workers:
                assert worker.poll() is None, "a worker process exited"
            # asyncio fires its timers in deadline order: once the last customer answer (due
            # 2 s after its lead's reply) exists, every earlier timer (a price known 0.5 s
            # after its lead) has fired too.
            answered = messages("Customer")
            if not all(answered.get(lead, 0) >= 1 for lead in lead_ids):
                return False
            before = deliveries()
            with engine.connect() as conn:
                open_jobs = conn.execute(
                    select(func.count()).where(outbox.c.state.in_(("pending", "running")))
                ).scalar_one()
            after = deliveries()
            return (
                open_jobs == 0
                and before["pending"] == after["pending"] == 0
                and before == after
                and all(replies().get(lead, 0) >= 1 for lead in lead_ids)
            )

        wait_until(settled, timeout=120)

        # Every delivery reached both serve processes, and both acknowledged it, or one
        # answered 503 (store busy, Retry-After) and the sandbox delivered it again, as
        # Thumbtack does: the two record the same deliveries at once, each in its own order,
        # and their transactions can deadlock on those rows (PostgreSQL detects it after its
        # deadlock_timeout, 1 s, and the writer retries), a wait longer than a request's.
        assert deliveries()["failed"] == 0
        assert len(proxy.statuses) >= 2 * LEADS
        busy = [r for r in proxy.refused if r[2] == 503 and "store is busy" in r[3]]
        assert len(busy) == len(proxy.refused), proxy.refused
        assert len(busy) <= LEADS, busy  # the exception, not the rule
        with engine.connect() as conn:
            stored = conn.execute(
                select(leads.c.lead_id, func.count()).group_by(leads.c.lead_id)
            ).all()
            jobs = conn.execute(select(outbox.c.id, outbox.c.state, outbox.c.attempts)).all()
            unfinished = conn.execute(
                select(outbox.c.kind, outbox.c.state, outbox.c.last_error).where(
                    outbox.c.state != "done"
                )
            ).all()
            # A CRM note that found its lead not yet at the destination was put off (NotYet)
            # and tried again: a second attempt by design, not a job run twice at once.
            deferred = {
                job
                for job, error in conn.execute(select(outbox.c.id, outbox.c.last_error))
                if error and "not at its destination yet" in str(error.get("detail", ""))
            }
            attempts = conn.execute(
                select(delivery_attempts.c.job_id, delivery_attempts.c.worker)
            ).all()
        assert sorted(lead for lead, _ in stored) == sorted(lead_ids)
        assert all(n == 1 for _, n in stored)
        assert jobs
        assert all(state == "done" for _, state, _ in jobs), unfinished
        # One claim and one recorded attempt per job (but those put off): none ran twice.
        assert all(n == 1 for job, _, n in jobs if job not in deferred), (jobs, deferred)
        assert sorted(job for job, _ in attempts) == sorted(
            job for job, _, n in jobs for _ in range(n)
        )
        assert len({worker for _, worker in attempts}) == 2, "both workers took jobs"
        # The sandbox saw each lead's first reply once; each customer's answer, delivered to
        # both serve processes, was stored once and went to the CRM once.
        assert replies() == dict.fromkeys(lead_ids, 1)
        assert messages("Customer") == dict.fromkeys(lead_ids, 1)
        with engine.connect() as conn:
            answers = conn.execute(
                select(messages_table.c.lead_id, func.count())
                .where(messages_table.c.sender == "Customer")
                .group_by(messages_table.c.lead_id)
            ).all()
            notes = conn.execute(
                select(func.count()).where(outbox.c.kind == "crm.message", outbox.c.state == "done")
            ).scalar_one()
        assert dict(answers) == dict.fromkeys(lead_ids, 1)
        assert notes == 2 * LEADS  # the first reply and the customer's answer, each lead
        # Both workers found the token expired; one refresh served them.
        assert refreshes() - refreshed_before == 1
