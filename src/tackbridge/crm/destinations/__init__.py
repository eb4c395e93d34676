"""The destinations tackbridge ships, one module each (``coperniq``, ``webhook``, ``none``), in
``DESTINATION_TYPES``; and the registry one process uses, which store, routes and jobs go
through (``destination_types``). Adding a destination: ARCHITECTURE.md."""

from __future__ import annotations

from tackbridge.crm.destinations.coperniq import COPERNIQ
from tackbridge.crm.destinations.none import NONE
from tackbridge.crm.destinations.registry import Choice, DestinationRegistry
from tackbridge.crm.destinations.webhook import WEBHOOK
from tackbridge.services import Services

__all__ = [
    "DESTINATION_TYPES",
    "Choice",
    "DestinationRegistry",
    "destination_types",
    "use_destination_types",
]

#: In order: the default is the first one the settings set up (Coperniq before the webhook).
DESTINATION_TYPES = DestinationRegistry(COPERNIQ, WEBHOOK, NONE, fallback="none")

_SHARED = "crm.destination_types"


def destination_types(services: Services) -> DestinationRegistry:
    """The registry of this process: ``DESTINATION_TYPES`` unless one was installed."""
    return services.shared(_SHARED, lambda: DESTINATION_TYPES)


def use_destination_types(services: Services, types: DestinationRegistry) -> None:
    """Install ``types`` as the process's registry (tests, an embedding), before its first
    use: the CRM jobs keep the registry they were built with."""
    found = services.shared(_SHARED, lambda: types)
    if found is not types:
        raise RuntimeError("the process's destination registry is already in use")
