from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tackbridge import RunningServer, make_settings, running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge server on loopback with a fresh SQLite file."""
    with running(make_settings(tmp_path)) as srv:
        yield srv
