from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tackbridge import RunningServer, in_process, make_settings, running

# A pytest-xdist worker starts with COLUMNS and LINES set (80x24) where a plain run has neither:
# the CLI's rich consoles, made when it is imported, would keep that width for good and ignore
# the COLUMNS a test gives the command it runs. Before any test module imports the CLI.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge with a fresh SQLite file, served in process (no socket)."""
    with in_process(make_settings(tmp_path)) as srv:
        yield srv


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge server on loopback with a fresh SQLite file: for tests that need a real HTTP
    server (another process beside it, or what only the wire shows)."""
    with running(make_settings(tmp_path)) as srv:
        yield srv
