"""The sandbox's Coperniq: one account's records and rules, and its public API.

- ``records``: the records and the account's defaults (workflows, custom properties);
- ``validation``: what a write may contain;
- ``matching``: the create's match rule, contact matching, search comparison, their indexes;
- ``events``: the automation events changes fire, and phase progression;
- ``store``: ``CoperniqStore``, every change to the records, through the modules above;
- ``wire``: the records as the API answers them;
- ``routes``: the HTTP API under ``/coperniq/v1`` (the key check and rate limits included).

This package re-exports only what has no HTTP in it: ``routes`` needs the app's context, which
needs the sandbox state, which holds a ``CoperniqStore``; import ``routes`` by its own name.
"""

from tackbridge.sandbox.coperniq.records import STATUSES
from tackbridge.sandbox.coperniq.store import CoperniqStore

__all__ = ["STATUSES", "CoperniqStore"]
