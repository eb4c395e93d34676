"""Logging set-up: one line per event, key facts first. Secrets are never passed to loggers."""

from __future__ import annotations

import logging


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # Every outbound request at INFO would bury what matters; failures still surface as
    # the job errors the outbox records.
    for chatty in ("httpx2", "httpcore", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
