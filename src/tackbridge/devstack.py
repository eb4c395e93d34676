"""``tackbridge dev`` (what ``make run`` starts): tackbridge in dev mode and the sandbox, wired to
each other on two loopback ports in one process.

The sandbox stands in for Thumbtack and Coperniq; tackbridge is pointed at it purely by
configuration, exactly as it would be pointed at the real services. Once both answer, a demo
business is connected through the real OAuth consent flow (the pro's clicks are played by an HTTP
client), and the sandbox's scenario engine sends a lead every few seconds. Ctrl-C stops both.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx2
import uvicorn
from pydantic import SecretStr
from rich.console import Console

from tackbridge.app import create_app, server_options
from tackbridge.core import logs
from tackbridge.core.clock import now
from tackbridge.sandbox import SandboxConfig
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.settings import Mode, Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import users
from tackbridge.users.passwords import verify
from tackbridge.users.service import ensure_user

__all__ = [
    "DEV_OWNER_EMAIL",
    "DEV_OWNER_PASSWORD",
    "Ports",
    "connect_demo_business",
    "ensure_dev_owner",
    "product_settings",
    "run",
    "sandbox_config",
]

SANDBOX_CLIENT_ID = "tackbridge-dev"
SANDBOX_CLIENT_SECRET = "dev-client-secret"  # noqa: S105 - the sandbox's documented dev value
SANDBOX_COPERNIQ_KEY = "dev-coperniq-key"
COPERNIQ_WEBHOOK_SECRET = "dev-coperniq-webhook-secret"  # noqa: S105 - dev value
DEV_OWNER_EMAIL = "owner@tackbridge.dev"
DEV_OWNER_PASSWORD = "dev-owner-password"  # noqa: S105 - a documented development value
# Open dashboards hold event streams: Ctrl-C closes them after this long at most.
GRACEFUL_SHUTDOWN_SECONDS = 3


@dataclass(frozen=True)
class Ports:
    tackbridge: int = 8000
    sandbox: int = 8700
    host: str = "127.0.0.1"

    @property
    def tackbridge_url(self) -> str:
        return f"http://{self.host}:{self.tackbridge}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.host}:{self.sandbox}"


def product_settings(ports: Ports, base: Settings | None = None) -> Settings:
    """tackbridge's settings in dev mode, pointed at the sandbox for Thumbtack and Coperniq."""
    settings = (base or Settings()).model_copy(
        update={
            "mode": Mode.DEV,
            "thumbtack_environment": "sandbox",
            "thumbtack_base_url": ports.sandbox_url,
            "thumbtack_client_id": SANDBOX_CLIENT_ID,
            "thumbtack_client_secret": SANDBOX_CLIENT_SECRET,
            "public_url": ports.tackbridge_url,
            "coperniq_api_key": SecretStr(SANDBOX_COPERNIQ_KEY),
            "coperniq_base_url": f"{ports.sandbox_url}/coperniq/v1",
            "coperniq_webhook_secret": SecretStr(COPERNIQ_WEBHOOK_SECRET),
        }
    )
    return settings.checked()


def sandbox_config(
    ports: Ports, settings: Settings, *, lead_rate: float, seed: int
) -> SandboxConfig:
    """The sandbox's config: deliveries to tackbridge's partner endpoints with its credentials."""
    password = settings.webhook_password.get_secret_value() if settings.webhook_password else None
    return SandboxConfig(
        partner_url=ports.tackbridge_url,
        delivery_style="v4",
        # What real Thumbtack sends (api-notes.md, 2026-12-01), not the documents' shapes.
        delivery_shapes="real",
        partner_username=settings.webhook_username,
        partner_password=password,
        allow_http_webhooks=True,
        coperniq_webhook_url=f"{ports.tackbridge_url}/coperniq/webhooks/{COPERNIQ_WEBHOOK_SECRET}",
        lead_rate=lead_rate,
        scenario_autostart=lead_rate > 0,
        seed=seed,
    ).validated()


class _FormReader(HTMLParser):
    """Reads the consent page's first form: its action, hidden fields, the business picker's
    choices and the submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.choices: dict[str, list[str]] = {}
        self.buttons: dict[str, list[str]] = {}
        self._select: str | None = None
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        name = found.get("name", "")
        if self._done:
            return
        if tag == "form" and self.action is None:
            self.action = found.get("action", "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            self.choices.setdefault(self._select, []).append(found.get("value", ""))
        elif tag == "button" and name:
            self.buttons.setdefault(name, []).append(found.get("value", ""))
        elif tag == "input" and name:
            self.fields.setdefault(name, found.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "form" and self.action is not None:
            self._done = True


async def connect_demo_business(
    tackbridge_url: str, operator_token: str, *, business_id: str | None = None
) -> str:
    """Plays the pro's part of the OAuth consent flow; returns the connected business's ID.

    Starts where a pro would (tackbridge's connect link), approves on the sandbox's consent page
    by submitting its form, and follows the redirect back to tackbridge's callback.
    """
    headers = {"Authorization": f"Bearer {operator_token}"}
    async with httpx2.AsyncClient(timeout=30.0, follow_redirects=False) as http:
        start = await http.get(f"{tackbridge_url}/connect/thumbtack", headers=headers)
        if start.status_code not in (302, 303, 307):
            raise RuntimeError(f"connect did not redirect: {start.status_code} {start.text[:200]}")
        consent_url = start.headers["location"]
        page = await http.get(consent_url)
        page.raise_for_status()
        form = _FormReader()
        form.feed(page.text)
        fields = dict(form.fields)
        for name, values in form.choices.items():
            fields[name] = business_id if business_id in values else values[0]
        for name, values in form.buttons.items():
            fields[name] = next((v for v in values if v in {"approve", "confirm"}), values[0])
        action = urljoin(consent_url, form.action or consent_url)
        approved = await http.post(action, data=fields)
        if approved.status_code not in (302, 303):
            raise RuntimeError(f"consent was not approved: {approved.status_code}")
        callback = await http.get(approved.headers["location"], headers=headers)
        if callback.status_code >= 400:
            raise RuntimeError(f"the OAuth callback failed: {callback.status_code}")
        connections = await http.get(f"{tackbridge_url}/api/connections", headers=headers)
        connections.raise_for_status()
        items: list[dict[str, Any]] = connections.json()["items"]
        active = [c for c in items if c.get("state") == "active"]
        if not active:
            raise RuntimeError("no active connection after the OAuth flow")
        return str(active[-1]["businessID"])


def ensure_dev_owner(settings: Settings) -> str:
    """The dashboard's dev owner (added once, with the documented password); a line for the
    banner."""
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        migrate.upgrade(db.writer)
        with db.writer.begin() as conn:
            user, _ = ensure_user(
                conn, DEV_OWNER_EMAIL, DEV_OWNER_PASSWORD, role="owner", now=now()
            )
            stored = conn.execute(
                users.select().with_only_columns(users.c.password_hash).where(users.c.id == user.id)
            ).scalar_one()
    finally:
        db.dispose()
    if verify(stored, DEV_OWNER_PASSWORD):
        return f"{DEV_OWNER_EMAIL} / {DEV_OWNER_PASSWORD}"
    return f"{DEV_OWNER_EMAIL} (its password was changed: tackbridge users set-password)"


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # one handler for both servers, below
        pass


async def run(ports: Ports, *, lead_rate: float = 12.0, seed: int = 1) -> None:
    """Runs both servers until Ctrl-C (or SIGTERM), connecting the demo business first."""
    console = Console()
    settings = product_settings(ports)
    logs.configure(settings.log_level, settings.log_format, secrets=settings.secret_values())
    sandbox = _Server(
        uvicorn.Config(
            create_sandbox(sandbox_config(ports, settings, lead_rate=lead_rate, seed=seed)),
            host=ports.host,
            port=ports.sandbox,
            log_level="warning",
        )
    )
    product = _Server(
        uvicorn.Config(
            create_app(settings),
            host=ports.host,
            port=ports.tackbridge,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            **server_options(settings),
        )
    )
    loop = asyncio.get_running_loop()

    def stop() -> None:
        sandbox.should_exit = True
        product.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(product.serve()), asyncio.create_task(sandbox.serve())]
    try:
        while not (product.started and sandbox.started):
            if any(t.done() for t in tasks):
                stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise SystemExit("a server failed to start (is the port in use?)")
            await asyncio.sleep(0.05)
        token = settings.api_token.get_secret_value() if settings.api_token else ""
        try:
            business = await connect_demo_business(ports.tackbridge_url, token)
            connected = f"[green]connected demo business {business} through OAuth[/green]"
        except (httpx2.HTTPError, RuntimeError, KeyError) as exc:
            connected = f"[yellow]could not connect the demo business: {exc}[/yellow]"
        try:
            owner = ensure_dev_owner(settings)
        except Exception as exc:  # the servers run on; the banner says what went wrong
            owner = f"[yellow]no dev owner: {exc}[/yellow]"
        _banner(console, ports, settings, connected, lead_rate, owner)
        await asyncio.gather(*tasks)
    finally:
        stop()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


def _banner(
    console: Console, ports: Ports, settings: Settings, connected: str, rate: float, owner: str
) -> None:
    password = settings.webhook_password.get_secret_value() if settings.webhook_password else ""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    tb, sb = ports.tackbridge_url, ports.sandbox_url
    every = f"a lead about every {60 / rate:.0f} s" if rate > 0 else "no generated leads"
    console.print(
        f"[bold]tackbridge (dev mode)[/bold] on {tb}, wired to the sandbox on {sb}\n"
        f"  {connected}\n"
        f"  the sandbox's scenario sends {every}\n\n"
        f"  dashboard:         {tb}/   (sign in: {owner})\n"
        f"  leads (API):       {tb}/api/leads   (Authorization: Bearer {token})\n"
        f"  API docs:          {tb}/docs\n"
        f"  sandbox (what Thumbtack and Coperniq saw): {sb}/_sandbox/\n"
        f"  partner endpoints: Basic {settings.webhook_username}:{password}\n"
        f"  stop:              Ctrl-C"
    )
