from tests.outbox.store_faults import loop_errors, store
from tests.support.sandbox_fixtures import fresh, sandbox, start

__all__ = ["fresh", "loop_errors", "sandbox", "start", "store"]
