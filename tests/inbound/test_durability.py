"""What was acknowledged is on disk: kill the server the instant it answers, then look."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

from tackbridge.store.schema import leads, messages
from tests.fixtures import doc_payload
from tests.support.processes import stderr_of, wait_serving
from tests.support.servers import free_port
from tests.support.store import count, outbox_keys
from tests.support.tackbridge import WEBHOOK_AUTH, WITH_FOLLOWUPS, make_settings


def test_acknowledged_deliveries_survive_sigkill(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TACKBRIDGE_MODE": "production",
        "TACKBRIDGE_DATA_DIR": str(tmp_path),
        "TACKBRIDGE_DATABASE_URL": make_settings(tmp_path).resolved_database_url,
        "TACKBRIDGE_WEBHOOK_USERNAME": WEBHOOK_AUTH[0],
        "TACKBRIDGE_WEBHOOK_PASSWORD": WEBHOOK_AUTH[1],
        "TACKBRIDGE_API_TOKEN": "t",
        # Only what ingest itself commits is checked here: no worker fanning jobs out.
        "TACKBRIDGE_RUN_WORKER": "false",
        # Something for a new lead to follow up (without, it queues no job): rules and a
        # destination, never called.
        "TACKBRIDGE_AUTOREPLY_RULES": WITH_FOLLOWUPS["autoreply_rules"],
        "TACKBRIDGE_WEBHOOK_DESTINATION_URL": WITH_FOLLOWUPS["webhook_destination_url"],
        "TACKBRIDGE_WEBHOOK_DESTINATION_SECRET": WITH_FOLLOWUPS["webhook_destination_secret"],
    }
    command = [sys.executable, "-m", "tackbridge", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_serving(url, process, lambda: stderr_of(process))
        with httpx2.Client(base_url=url, auth=WEBHOOK_AUTH) as client:
            assert client.post("/v1/message", json=doc_payload("v2_message")).status_code == 202
            response = client.post("/v1/lead", json=doc_payload("v2_lead"))
            # No grace: the process dies the moment the acknowledgement is in our hands.
            process.send_signal(signal.SIGKILL)
        assert response.status_code == 200
    finally:
        process.kill()
        process.wait()
    settings = make_settings(tmp_path)
    assert count(settings, leads) == 1
    assert count(settings, messages) == 1
    assert outbox_keys(settings) == [
        # message IDs are unique within their lead: the key names both
        "message.received:299614694480093245:8699842694484326245",
        "autoreply.plan:299614694480093245",
        "crm.lead:299614694480093245",
    ]
