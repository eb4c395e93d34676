"""``/api/leads/{leadID}/messages``: a lead's thread, and replying to its customer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, field_validator

from tackbridge.conversations.replies import MAX_TEXT, LeadNotFoundError, queue_reply
from tackbridge.core.bounds import ID_PATTERN
from tackbridge.leads.service import get_lead
from tackbridge.leads.thread import Thread, ThreadMessage, get_message, thread
from tackbridge.services import require_operator, services

router = APIRouter(
    prefix="/api/leads", tags=["conversations"], dependencies=[Depends(require_operator)]
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong operator token"},
    404: {"description": "No such lead"},
    422: {"description": "Invalid body (problem+json)"},
}
LeadID = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    author: Literal["person", "auto"] = "person"
    # Sending the same messageID again returns the first reply instead of sending a second.
    messageID: str | None = Field(default=None, min_length=1, max_length=58, pattern=ID_PATTERN)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


@router.post(
    "/{lead_id}/messages",
    status_code=202,
    response_model=ThreadMessage,
    summary="Reply to the lead's customer (queued; deliveryState follows the send)",
    responses=_ERRORS,
)
async def reply(request: Request, lead_id: LeadID, body: ReplyIn) -> ThreadMessage:
    svc = services(request)
    now = datetime.now(UTC)
    message_id = f"reply-{body.messageID}" if body.messageID else None
    try:
        queued = await svc.writer.run(
            lambda conn: queue_reply(
                conn, lead_id, body.text, now=now, author=body.author, message_id=message_id
            )
        )
    except LeadNotFoundError:
        raise HTTPException(404, f"no lead {lead_id!r}") from None
    svc.wake_worker()
    with svc.db.reader.connect() as conn:
        found = get_message(conn, queued.message_id, lead_id)
    assert found is not None
    return found


@router.get(
    "/{lead_id}/messages",
    response_model=Thread,
    summary="The lead's thread, with the delivery state of replies",
    responses=_ERRORS,
)
def messages_index(request: Request, lead_id: LeadID) -> Thread:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        if get_lead(conn, lead_id) is None:
            raise HTTPException(404, f"no lead {lead_id!r}")
        return thread(conn, lead_id)
