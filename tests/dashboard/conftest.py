from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dashboard import dev_server
from tests.support.tackbridge import RunningServer


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge in dev mode with an owner (tests.support.dashboard.OWNER)."""
    with dev_server(tmp_path) as srv:
        yield srv
