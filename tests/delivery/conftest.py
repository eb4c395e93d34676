"""What test_cli.py, the last test left here, needs until it moves with the CLI's tests."""

from tests.support.sandbox_fixtures import sandbox

__all__ = ["sandbox"]
