"""How a job handler tells the worker what became of an attempt."""

from __future__ import annotations

from typing import Any


class JobError(Exception):
    """Base of the errors a handler raises; anything else counts as retryable."""

    def __init__(
        self, detail: str, *, status_code: int | None = None, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.problem = problem


class RetryableError(JobError):
    """Try again later: 5xx, 429, timeouts, a dependency not ready yet."""

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, status_code=status_code, problem=problem)
        self.retry_after = retry_after


class NotYetError(RetryableError):
    """Nothing was written anywhere: something the job needs is not there yet, so it runs again
    later. Its attempt is recorded as ``deferred``, and the next one still counts as the job's
    first try (``Job.first_try``)."""


class PermanentError(JobError):
    """Trying again cannot help (a 4xx other than 401/429): the job is dead at once."""
