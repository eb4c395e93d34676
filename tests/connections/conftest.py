from tests.support.connections import local, stack

__all__ = ["local", "stack"]
