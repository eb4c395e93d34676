"""Fixtures for driving the sandbox over real HTTP: ``start``, ``fresh``, ``sandbox`` and
``partner`` come from tests/support/sandbox_fixtures.py (helpers in tests/support/sandbox.py)."""

from __future__ import annotations

from tests.support.sandbox_fixtures import _partner_server, fresh, partner, sandbox, start

__all__ = ["_partner_server", "fresh", "partner", "sandbox", "start"]
