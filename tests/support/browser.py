"""Browser tests' shared parts: Debian's chromium driven by Playwright (never a downloaded
browser), tackbridge and its sandbox on free loopback ports with dashboard users, signing in by
the form's labels, screenshots at desktop and phone width, and axe-core's accessibility check.

Use them from a test package's conftest.py::

    from tests.support.browser import browser, dashboard, page  # noqa: F401  (fixtures)

``browser`` and ``dashboard`` are module-scoped (one chromium and one stack per test module: a
module's tests stay on one xdist worker); ``page`` is a fresh browser context per test (no
cookies carried over). While a browser module runs, its thread's asyncio belongs to
Playwright: run coroutines in another thread (``Dashboard.connect`` does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tackbridge.app import create_app
from tackbridge.core.clock import now
from tackbridge.devstack import Ports, connect_demo_business, product_settings, sandbox_config
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.sandbox.config import BusinessSeed
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.users.service import add_user
from tests.support.sandbox import wait_until
from tests.support.servers import free_port, serve
from tests.support.tackbridge import API_TOKEN, dev_clients, make_settings

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "SCREENSHOTS",
    "Dashboard",
    "axe_violations",
    "browser",
    "dashboard",
    "dashboard_stack",
    "page",
    "screenshots",
    "sign_in",
]

CHROMIUM = os.environ.get("TACKBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
OWNER = ("owner@example.com", "owner-password-1")
# What the page waits on crosses the worker and the sandbox: more than expect's default 5 s.
expect.set_options(timeout=20_000)


# Module-scoped, not session-scoped: while Playwright's sync API runs, its event loop counts as
# running in this thread, so asyncio.run (and pytest-asyncio) fail in every later test of the
# worker process. Stopping it at the end of each browser module gives the thread back.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    found = context.new_page()
    try:
        yield found
    finally:
        context.close()


def _in_thread(work: Callable[[], Any]) -> Any:
    """Runs ``work`` off the test's thread, where Playwright's own event loop lives."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@dataclass
class Dashboard:
    """tackbridge (dev mode, worker running) and its sandbox, with an owner to sign in as."""

    ports: Ports
    settings: Settings
    operator: httpx2.Client
    sandbox: httpx2.Client
    owner: tuple[str, str] = OWNER
    connected: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.ports.tackbridge_url

    def add_user(
        self, email: str, password: str, *, role: str, businesses: tuple[str, ...] = ()
    ) -> None:
        db = open_database(self.settings.resolved_database_url)
        try:
            with db.writer.begin() as conn:
                add_user(conn, email, password, role=role, businesses=businesses, now=now())
        finally:
            db.dispose()

    def business_ids(self) -> list[str]:
        return [b["businessID"] for b in self.inspect("businesses")]

    def connect(self, business_id: str) -> str:
        """Connects ``business_id`` through the sandbox's consent page (once)."""
        if business_id not in self.connected:
            _in_thread(
                lambda: asyncio.run(
                    connect_demo_business(self.url, API_TOKEN, business_id=business_id)
                )
            )
            self.connected.append(business_id)
        return business_id

    def quiet(self, business_id: str) -> None:
        """No automatic reply for the business's leads (they stay unanswered)."""
        answer = self.operator.put(
            f"/api/businesses/{business_id}/autoreply",
            json={"default": {"enabled": False, "template": "unused"}},
        )
        assert answer.status_code == 200, answer.text

    def new_lead(self, business_id: str, **extra: Any) -> str:
        created = self.sandbox.post("/_sandbox/leads", json={"businessID": business_id, **extra})
        assert created.status_code == 201, created.text
        return str(created.json()["leadID"])

    def stored(self, lead_id: str) -> bool:
        return self.operator.get(f"/api/leads/{lead_id}").status_code == 200

    def inspect(self, what: str, **params: str) -> Any:
        answer = self.sandbox.get(f"/_sandbox/{what}", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, predicate: Callable[[], Any], timeout: float = 20.0) -> None:
        wait_until(lambda: bool(predicate()), timeout=timeout)


@contextmanager
def dashboard_stack(
    data: Path,
    *,
    settings: dict[str, Any] | None = None,
    businesses: tuple[BusinessSeed, ...] | None = None,
) -> Iterator[Dashboard]:
    """``dashboard``'s stack with other ``settings`` (e.g. ``worker_max_attempts``) or sandbox
    ``businesses`` (e.g. two of one account)."""
    with ExitStack() as stack:
        ports = Ports(tackbridge=free_port(), sandbox=free_port())
        base = make_settings(data, run_worker=True, **(settings or {}))
        product = product_settings(ports, base=base)
        config = sandbox_config(ports, product, lead_rate=0, seed=11)
        if businesses is not None:
            config = replace(config, businesses=businesses).validated()
        stack.enter_context(serve(create_sandbox(config), port=ports.sandbox))
        stack.enter_context(serve(create_app(product), port=ports.tackbridge))
        operator, sandbox = dev_clients(stack, ports)
        found = Dashboard(ports, product, operator, sandbox)
        found.add_user(*OWNER, role="owner")
        yield found


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_stack(tmp_path_factory.mktemp("dashboard")) as found:
        yield found


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Signs in through the form, by its labels; waits for the inbox."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()


def screenshots(page: Page, name: str) -> list[Path]:
    """Full-page screenshots at desktop (1280) and phone (390) width, under
    test-output/screenshots/ (the viewport is put back after)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or DESKTOP
    saved = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    page.set_viewport_size(before)
    return saved


_AXE = Axe()


def axe_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """axe-core's violations of ``impacts`` on the page as it is now (each with its nodes)."""
    results = _AXE.run(page)
    violations: list[dict[str, Any]] = results.response.get("violations", [])
    return [
        {
            "id": v["id"],
            "impact": v.get("impact"),
            "help": v.get("help"),
            "nodes": [n.get("target") for n in v.get("nodes", [])][:5],
        }
        for v in violations
        if v.get("impact") in impacts
    ]
