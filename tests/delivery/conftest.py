from tests.delivery.store_faults import loop_errors, store
from tests.sandbox.conftest import fresh, sandbox, start

__all__ = ["fresh", "loop_errors", "sandbox", "start", "store"]
