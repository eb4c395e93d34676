"""The v4 list envelope every paged resource shares: ``Pagination`` and the ``_Page`` base
(``data`` plus ``pagination``; a bare JSON list is accepted as ``data``)."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from ._base import _Response

__all__ = ["Pagination"]


class Pagination(_Response):
    """The ``pagination`` object of v4 lists. Only ``limit`` is documented; the next-page
    cursor is read from whichever of the usual names is present."""

    limit: int | None = None

    @property
    def next_page_token(self) -> str | None:
        extra = self.model_extra or {}
        for key in ("nextPageToken", "nextCursor", "next", "cursor", "pageToken"):
            value = extra.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
        return None


class _Page(_Response):
    pagination: Pagination | None = None

    @property
    def next_page_token(self) -> str | None:
        return self.pagination.next_page_token if self.pagination else None

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"data": value}
        return value
