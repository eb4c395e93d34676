"""OAuth connections per business: the connect flow, tokens encrypted at rest, single-flight
refresh, disconnect with a scheduled purge, and v4 webhook registration.

Other packages use :class:`TokenManager` (``access_token``, ``refreshed_after_401``) and
:class:`ConnectionUnavailableError`; the runtime holds one manager per process
(``token_manager(runtime)``).
"""

from __future__ import annotations

from typing import Any

from tackbridge.connections.tokens import AccessGrant, ConnectionUnavailableError, TokenManager

__all__ = ["AccessGrant", "ConnectionUnavailableError", "TokenManager", "token_manager"]


def token_manager(runtime: Any) -> TokenManager | None:
    """The runtime's TokenManager (None when the runtime has no connections feature)."""
    connections = getattr(runtime, "connections", None)
    return None if connections is None else connections.tokens
