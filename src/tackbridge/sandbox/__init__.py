"""The sandbox: a separate ASGI app that stands in for Thumbtack (legacy Pro API v1/v2/v3, v4 API,
both OAuth servers) and Coperniq on one local port, so the product and any partner integration
can be developed and tested end to end without network access or credentials.

It imports nothing from the product except the shared wire models in ``tackbridge.payloads``.
"""

from tackbridge.sandbox.app import create_app
from tackbridge.sandbox.config import BusinessSeed, Faults, SandboxConfig

__all__ = ["BusinessSeed", "Faults", "SandboxConfig", "create_app"]
