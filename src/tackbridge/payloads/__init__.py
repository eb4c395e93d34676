"""Wire models of what Thumbtack and Coperniq send and accept.

These describe the documented shapes (every field of the reference tables, plus the variants
api-notes.md lists) for the OpenAPI schema and for the sandbox, which builds deliveries with them.
The product reads deliveries more liberally than these models (see ``tackbridge.inbound.parse``):
they say what is sent, not what is required.
"""
