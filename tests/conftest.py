from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tackbridge import RunningServer, in_process, make_settings, running


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
