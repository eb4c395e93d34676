"""The relational schema: the domain (businesses, customers, leads and what hangs off them), the
verbatim inbound log, and the outbox of downstream work.

Thumbtack identifiers (``lead_id``, ``message_id``...) are unique text columns; integer surrogate
keys give cheap joins and stable cursors. Messages and lead updates reference their lead by
Thumbtack ID without a foreign key because they can arrive before it. The deliveries behind a
record are found in the inbound log by (record_kind, record_id). Portable to PostgreSQL:
only types and constraints both dialects share.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _ts(name: str, *, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


inbound_log = Table(
    "inbound_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _ts("received_at", nullable=False),
    Column("route", String(64), nullable=False),
    Column("method", String(8), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("body_size", Integer, nullable=False),
    Column("body_truncated", Boolean, nullable=False, default=False),
    Column("status_code", Integer, nullable=False),
    # accepted | duplicate | pending | ignored | rejected | unauthorized
    Column("outcome", String(16), nullable=False),
    Column("event_type", String(64), nullable=True),
    Column("record_kind", String(16), nullable=True),
    Column("record_id", String(64), nullable=True),
    # The lead and business the delivered record belongs to, where it says (a message ID is
    # unique only within its lead): the purge removes a business's deliveries by these.
    Column("lead_id", String(64), nullable=True),
    Column("business_id", String(64), nullable=True),
    Column("problem", JSON, nullable=True),
    Index(None, "outcome", "id"),
    Index(None, "record_kind", "record_id"),
    Index(None, "lead_id"),
    Index(None, "business_id"),
)

businesses = Table(
    "businesses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("business_id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=True),
    Column("access_code", Text, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=True),
    Column("first_name", Text, nullable=True),
    Column("last_name", Text, nullable=True),
    Column("display_name", Text, nullable=True),
    Column("phone", String(32), nullable=True),
    Column("email", Text, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lead_id", String(64), nullable=False, unique=True),
    Column("business_id", String(64), ForeignKey("businesses.business_id"), nullable=True),
    Column("customer_id", String(64), ForeignKey("customers.customer_id"), nullable=True),
    Column("source", String(8), nullable=False),  # v1 | v4
    Column("is_test", Boolean, nullable=False, default=False),
    Column("request_id", String(64), nullable=True),
    Column("category", Text, nullable=True),
    Column("category_id", String(64), nullable=True),
    Column("title", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("schedule", Text, nullable=True),
    Column("address1", Text, nullable=True),
    Column("address2", Text, nullable=True),
    Column("city", Text, nullable=True),
    Column("state", String(32), nullable=True),
    Column("zip_code", String(16), nullable=True),
    Column("travel_preferences", JSON, nullable=True),
    Column("proposed_times", JSON, nullable=True),
    Column("price", Text, nullable=True),  # the customer's estimate, free text
    Column("lead_type", String(64), nullable=True),
    Column("lead_price", Text, nullable=True),  # as Thumbtack wrote it, e.g. "$26.00"
    Column("lead_price_cents", BigInteger, nullable=True),
    Column("lead_price_breakdown", JSON, nullable=True),
    Column("charge_state", String(32), nullable=True),
    Column("status", String(32), nullable=True),
    Column("job_status", String(32), nullable=True),  # the last one pushed to Thumbtack
    # Speed to lead: the first reply the customer got, and who wrote it (auto | person).
    _ts("first_reply_at"),
    Column("first_reply_by", String(16), nullable=True),
    Column("estimate", JSON, nullable=True),
    Column("request_review_link", Text, nullable=True),
    Column("refund_request_link", Text, nullable=True),
    Column("extra", JSON, nullable=True),  # fields outside the documented tables, verbatim
    _ts("created_at"),  # when Thumbtack created the lead
    _ts("received_at", nullable=False),
    _ts("updated_at", nullable=False),
    Index(None, "business_id", "id"),
    Index(None, "status", "id"),
    Index(None, "business_id", "status", "id"),  # the inbox by business and status
    Index(None, "received_at"),
)

lead_details = Table(
    "lead_details",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lead_id", String(64), ForeignKey("leads.lead_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("question", Text, nullable=True),
    Column("answer", Text, nullable=True),
    UniqueConstraint("lead_id", "position"),
)

lead_status_history = Table(
    "lead_status_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lead_id", String(64), nullable=False, index=True),
    # received | update | job_status
    Column("source", String(16), nullable=False),
    Column("status", String(32), nullable=True),
    Column("job_status", String(32), nullable=True),
    Column("invoice_amount_cents", BigInteger, nullable=True),
    Column("charge_state", String(32), nullable=True),
    Column("lead_price", Text, nullable=True),
    Column("lead_price_cents", BigInteger, nullable=True),
    # False while the lead has not arrived; applied when it does.
    Column("applied", Boolean, nullable=False, default=True),
    _ts("occurred_at"),
    _ts("recorded_at", nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Thumbtack's message IDs are unique within a lead only (partners' fixtures reuse "m1"):
    # a message is its lead and its ID. One without a lead is its ID alone (the partial index
    # below: NULLs differ, so the (lead, ID) constraint does not hold them to one).
    Column("message_id", String(64), nullable=False),
    Column("lead_id", String(64), nullable=True, index=True),
    Column("business_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=True),
    # How the delivery named the customer and the business (v4 messages carry both).
    Column("customer_name", Text, nullable=True),
    Column("business_name", Text, nullable=True),
    Column("sender", String(16), nullable=False),  # Customer | Business
    Column("text", Text, nullable=True),
    # v1 | v4 for deliveries from Thumbtack; "reply" for replies sent through tackbridge
    Column("source", String(8), nullable=False),
    # Replies only: queued | sent | failed, and who wrote them (auto | person).
    Column("delivery_state", String(16), nullable=True),
    Column("author", String(16), nullable=True),
    _ts("sent_at"),
    _ts("received_at", nullable=False),
    UniqueConstraint("lead_id", "message_id"),
    Index(None, "message_id"),
)
# The same message without a lead arriving at two processes at once (PostgreSQL) is stored once:
# a look before the insert cannot see the other's uncommitted row; this index makes the second
# insert wait for the first and find it (``MESSAGE_WITHOUT_LEAD``, ON CONFLICT ... WHERE).
MESSAGE_WITHOUT_LEAD = messages.c.lead_id.is_(None)
Index(
    "ux_messages_message_id_without_lead",
    messages.c.message_id,
    unique=True,
    sqlite_where=MESSAGE_WITHOUT_LEAD,
    postgresql_where=MESSAGE_WITHOUT_LEAD,
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("review_id", String(64), nullable=False, unique=True),
    Column("business_id", String(64), nullable=True, index=True),
    Column("lead_id", String(64), nullable=True, index=True),
    Column("category_id", String(64), nullable=True),
    Column("rating", Integer, nullable=True),
    Column("rating_raw", String(16), nullable=True),
    Column("text", Text, nullable=True),
    Column("reviewer_name", Text, nullable=True),
    Column("reviewer_nickname", Text, nullable=True),
    Column("verified", Boolean, nullable=True),
    Column("event_type", String(64), nullable=True),
    Column("source", String(8), nullable=False),
    _ts("created_at"),
    _ts("modified_at"),
    _ts("received_at", nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_kind", String(16), nullable=False),  # lead | message | review
    Column("owner_id", String(64), nullable=False),
    # A message's attachments also name its lead (message IDs are unique within a lead only);
    # "" for a lead's or a review's own, and for a message that came without its lead.
    Column("owner_lead", String(64), nullable=False, server_default=""),
    Column("position", Integer, nullable=False),
    Column("file_name", Text, nullable=True),
    Column("file_size", BigInteger, nullable=True),
    Column("mime_type", String(128), nullable=True),
    Column("url", Text, nullable=True),
    Column("description", Text, nullable=True),
    UniqueConstraint("owner_kind", "owner_id", "owner_lead", "position"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    # pending | running | done | dead
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at", nullable=False),
    _ts("lease_expires_at"),
    Column("lease_owner", String(64), nullable=True),
    Column("last_error", JSON, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    Index(None, "state", "next_attempt_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    _ts("started_at", nullable=False),
    _ts("finished_at", nullable=False),
    # done | retry | dead
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", JSON, nullable=True),
    Index(None, "job_id", "attempt"),
)

connections = Table(
    "connections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("business_id", String(64), nullable=False, unique=True),
    Column("business_name", Text, nullable=True),
    Column("api", String(8), nullable=False),  # legacy | v4
    # active | needs_reconnect | disconnected
    Column("state", String(16), nullable=False),
    Column("scopes", JSON, nullable=False),
    # Fernet tokens: the plaintext never touches the database.
    Column("access_token", Text, nullable=True),
    Column("refresh_token", Text, nullable=True),
    _ts("access_expires_at"),
    _ts("refresh_expires_at"),
    # Bumped by every refresh: a compare-and-swap on it makes refresh single-flight across
    # processes, so a rotated refresh token is never spent twice.
    Column("token_version", Integer, nullable=False, default=0),
    _ts("refresh_started_at"),
    Column("refresh_owner", String(64), nullable=True),
    Column("webhook_id", String(64), nullable=True),
    # Why our webhook is not registered (e.g. a missing scope); NULL when it is, or not yet tried.
    Column("webhook_error", Text, nullable=True),
    # A disabled business keeps its connection, but no webhook and no follow-ups for its leads.
    Column("enabled", Boolean, nullable=False, default=True, server_default=true()),
    # The business whose row holds the tokens this business uses (one grant, several businesses
    # of one account); NULL: its own row holds them.
    Column("grant_of", String(64), nullable=True),
    Column("last_error", JSON, nullable=True),
    _ts("connected_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("disconnected_at"),
)

oauth_states = Table(
    "oauth_states",
    metadata,
    Column("state", String(128), primary_key=True),
    Column("api", String(8), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("code_verifier", Text, nullable=True),  # Fernet-encrypted
    Column("redirect_uri", Text, nullable=False),
    # The business the operator named (when the client may not list the account's businesses).
    Column("business_id", String(64), nullable=True),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)

# What each business chose; a NULL column means "the settings' default".
business_settings = Table(
    "business_settings",
    metadata,
    Column("business_id", String(64), primary_key=True),
    Column("destination", String(16), nullable=True),  # coperniq | webhook | none
    Column("destination_options", JSON, nullable=True),  # URLs and match rules; no secrets
    Column("destination_secret", Text, nullable=True),  # Fernet: Coperniq key or signing secret
    Column("autoreply_rules", JSON, nullable=True),
    _ts("updated_at", nullable=False),
)

# The record a lead became at its destination (a Coperniq opportunity ID), for the way back.
crm_links = Table(
    "crm_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lead_id", String(64), nullable=False, unique=True),
    Column("destination", String(16), nullable=False),
    Column("external_id", String(64), nullable=True, index=True),
    Column("outcome", String(16), nullable=False),  # created | found | linked | skipped | sent
    _ts("created_at", nullable=False),
)

# Coperniq automation webhooks, once each (Coperniq retries on non-2xx).
crm_events = Table(
    "crm_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("trigger_key", String(64), nullable=False),
    Column("record_id", String(64), nullable=True),
    _ts("fired_at"),
    Column("payload", JSON, nullable=False),
    # queued | ignored (trigger not mapped) | applied | unmatched (no lead for the record)
    Column("outcome", String(16), nullable=False),
    Column("lead_id", String(64), nullable=True),
    Column("job_status", String(32), nullable=True),
    _ts("received_at", nullable=False),
)

# People who sign in to the dashboard (tackbridge.users): owner | admin | member.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # lower-cased
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("role", String(16), nullable=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

# The businesses a member may see (owners and admins see every business).
user_businesses = Table(
    "user_businesses",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("business_id", String(64), primary_key=True),
)

# Dashboard sign-ins: the cookie holds a random token, the store only its SHA-256.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
)
