from tests.support.sandbox_fixtures import fresh, sandbox, start

__all__ = ["fresh", "sandbox", "start"]
