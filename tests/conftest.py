from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import stores
from tests.support.tackbridge import RunningServer, in_process, make_settings, running

# A pytest-xdist worker starts with COLUMNS and LINES set (80x24) where a plain run has neither:
# the CLI's rich consoles, made when it is imported, would keep that width for good and ignore
# the COLUMNS a test gives the command it runs. Before any test module imports the CLI.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


# Folders whose tests never open tackbridge's store (the sandbox keeps its own state in memory).
# browser: the pages are checked once, on SQLite; what they read and write is checked on both
# stores by tests/dashboard, tests/users and the features' own tests.
_STORELESS = ("architecture", "browser", "sandbox", "thumbtack")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: the test is about SQLite itself; it runs on SQLite only"
    )
    config.addinivalue_line(
        "markers", "postgres_only: the test is about PostgreSQL (several processes, LISTEN)"
    )


def _touches_store(metafunc: pytest.Metafunc) -> bool:
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return False
    tests = Path(__file__).parent
    relative = Path(str(metafunc.definition.path)).relative_to(tests)
    if relative.parts and relative.parts[0] in _STORELESS:
        return False
    # A test with a folder of its own may put a store in it: every such test runs on both.
    return bool({"tmp_path", "tmp_path_factory"} & set(metafunc.fixturenames))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" not in metafunc.fixturenames:
        return
    only_postgres = metafunc.definition.get_closest_marker("postgres_only") is not None
    if not only_postgres and not _touches_store(metafunc):
        return
    chosen = stores.selected()
    params = [
        pytest.param(
            name,
            id=name,
            marks=()
            if name in chosen
            else pytest.mark.skip(reason=f"TACKBRIDGE_TEST_STORES={','.join(chosen)}"),
        )
        for name in (("postgres",) if only_postgres else stores.ALL_STORES)
    ]
    # Module scope: a module's tests run on SQLite, then all again on PostgreSQL, so that its
    # module-scoped servers (which take ``store_kind``) are made once per store.
    metafunc.parametrize("store_kind", params, indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store this module's tests use (``sqlite`` unless parametrized)."""
    which: str = getattr(request, "param", "sqlite")
    stores.use(which)
    try:
        yield which
    finally:
        stores.use("sqlite")


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
