"""OAuth connections per business: the connect flow, tokens encrypted at rest, single-flight
refresh, disconnect with a scheduled purge, and v4 webhook registration.

Other features see a connection only through the grant vocabulary of ``tackbridge.thumbtack``
(``Grant``, ``GrantSource``, ``ConnectionUnavailableError``): :class:`TokenManager` is the
process's ``GrantSource``.
"""

from tackbridge.connections.tokens import TokenManager

__all__ = ["TokenManager"]
