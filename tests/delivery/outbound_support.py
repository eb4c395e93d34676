"""Moved to tests/support/outbound.py; test_cli.py, the last test left here, still imports it
from this name until it moves with the CLI's tests (then this file goes)."""

from tests.support.outbound import import_lead, sandbox_messages

__all__ = ["import_lead", "sandbox_messages"]
