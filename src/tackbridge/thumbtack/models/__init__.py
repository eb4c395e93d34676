"""Pydantic models of what the Thumbtack client sends and receives, one module per API.

- :mod:`._base`: the shared ``_Response``/``_Request`` bases, ``IdStr``, ``WireSecret``,
  ``format_rfc3339``
- :mod:`.tokens`: ``TokenSet`` (legacy and v4 OAuth token answers)
- :mod:`.legacy`: the legacy Pro API's answers
- :mod:`.pagination`: the v4 list envelope (``Pagination``)
- :mod:`.negotiations`: leads, messages, businesses, users and their pages
- :mod:`.job_status`: ``JobStatus`` and ``JobStatusUpdate``
- :mod:`.webhooks`: webhook bodies, auth and answers
- :mod:`.phone_numbers`: associate phone numbers
- :mod:`.requests`: the demand side (requests, business search)

Every public name is re-exported here: ``from tackbridge.thumbtack.models import X`` works for
all of them. Responses are liberal (unknown fields kept), requests strict (unknown fields
refused); see :mod:`._base`.
"""

from ._base import IdStr, WireSecret, format_rfc3339
from .job_status import JobStatus, JobStatusUpdate
from .legacy import DisconnectResult, StatusResult, TestLead, ThumbtackInfo
from .negotiations import (
    Business,
    BusinessPage,
    Message,
    MessagePage,
    Negotiation,
    NegotiationPage,
    User,
)
from .pagination import Pagination
from .phone_numbers import (
    AssociatePhoneNumber,
    AssociatePhoneNumberCreate,
    AssociatePhoneNumberPage,
    AssociatePhoneNumberUpdate,
)
from .requests import (
    BusinessSearch,
    BusinessSearchResult,
    ContactError,
    RequestCreate,
    RequestDetail,
    RequestResult,
)
from .tokens import TokenSet
from .webhooks import (
    DEFAULT_BUSINESS_EVENT_TYPES,
    Webhook,
    WebhookAuth,
    WebhookBasicAuth,
    WebhookCreate,
    WebhookHeaderAuth,
    WebhookPage,
    WebhookUpdate,
)

__all__ = [
    "DEFAULT_BUSINESS_EVENT_TYPES",
    "AssociatePhoneNumber",
    "AssociatePhoneNumberCreate",
    "AssociatePhoneNumberPage",
    "AssociatePhoneNumberUpdate",
    "Business",
    "BusinessPage",
    "BusinessSearch",
    "BusinessSearchResult",
    "ContactError",
    "DisconnectResult",
    "IdStr",
    "JobStatus",
    "JobStatusUpdate",
    "Message",
    "MessagePage",
    "Negotiation",
    "NegotiationPage",
    "Pagination",
    "RequestCreate",
    "RequestDetail",
    "RequestResult",
    "StatusResult",
    "TestLead",
    "ThumbtackInfo",
    "TokenSet",
    "User",
    "Webhook",
    "WebhookAuth",
    "WebhookBasicAuth",
    "WebhookCreate",
    "WebhookHeaderAuth",
    "WebhookPage",
    "WebhookUpdate",
    "WireSecret",
    "format_rfc3339",
]
