from tests.sandbox.conftest import fresh, sandbox, start

__all__ = ["fresh", "sandbox", "start"]
