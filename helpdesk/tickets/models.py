"""Tickets and everything that happens on them: messages, attachments, calls, events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

if TYPE_CHECKING:
    from helpdesk.agents.models import Agent, Team
    from helpdesk.customers.models import Customer

STATUSES = ("new", "open", "pending", "solved", "closed")
OPEN_STATUSES = ("new", "open", "pending")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "sms", "voice", "chat", "web", "api")
DIRECTIONS = ("in", "out", "note")
AUTHOR_KINDS = ("customer", "agent", "bot", "system")
DELIVERY = ("received", "queued", "sent", "delivered", "undelivered", "failed")


class Ticket(Model):
    """One conversation with one customer, on the channel it started on."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_last", "customer_id", "last_message_at"),
        Index("ix_tickets_team_status_last", "team_id", "status", "last_message_at"),
        Index("ix_tickets_assignee_status_last", "assignee_id", "status", "last_message_at"),
        Index("ix_tickets_status_last", "status", "last_message_at"),
        # The inbox's "all" view: walk the newest first and stop at a page.
        Index("ix_tickets_last", "last_message_at", "id"),
        # The inbox's counts per view read only this index (no table rows).
        Index("ix_tickets_status_team_assignee", "status", "team_id", "assignee_id"),
        # The SLA scan (tickets/sla.py): the due tickets not yet warned / escalated.
        Index("ix_tickets_sla_scan", "sla_stage", "sla_due"),
        # The lead's board: a team's tickets nearest their SLA.
        Index("ix_tickets_team_sla", "team_id", "sla_due"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="new")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    channel: Mapped[str] = mapped_column(String(10))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    # The customer address this conversation runs on (email, E.164, visitor id).
    contact: Mapped[str | None] = mapped_column(String(320))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # Values of the admin-defined fields that apply to tickets (helpdesk/fields).
    custom_fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # The customer's survey answer (helpdesk/surveys): {"rating", "comment", "at"}.
    csat: Mapped[dict | None] = mapped_column(JSON)
    # SLA (tickets/sla.py): the policy applied and the due time of each target; ``sla_due``
    # is the earliest target still running (None: none, or paused while pending), and
    # ``sla_target`` names it. ``sla_stage``: 0 running, 1 assignee warned, 2 breached and
    # escalated; it goes back to 0 only when a new, later due time starts.
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_target: Mapped[str | None] = mapped_column(String(20))
    sla_stage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the clocks start: the ticket's creation moved on by every pause (first response
    # and resolution), and the first customer message after an agent's reply (next response).
    sla_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_response_from: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship("Customer", lazy="joined")
    assignee: Mapped[Agent | None] = relationship("Agent", lazy="joined")
    team: Mapped[Team | None] = relationship("Team", lazy="joined")
    tag_rows: Mapped[list[TicketTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TicketTag.name"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
        order_by="Message.id",
    )

    def __repr__(self) -> str:
        return f"<Ticket #{self.id} {self.status} {self.channel}>"

    @property
    def number(self) -> int:
        """The human ticket number agents and customers quote (``[#number]``)."""
        return self.id

    @property
    def is_open(self) -> bool:
        """New, open or pending."""
        return self.status in OPEN_STATUSES

    @property
    def tags(self) -> list[str]:
        """The ticket's tags, sorted."""
        return [row.name for row in self.tag_rows]

    def set_tags(self, names: list[str]) -> None:
        """Replace the ticket's tags."""
        wanted = sorted({n.strip().lower() for n in names if n.strip()})
        keep = [row for row in self.tag_rows if row.name in wanted]
        have = {row.name for row in keep}
        self.tag_rows = keep + [TicketTag(name=n) for n in wanted if n not in have]


class TicketTag(Model):
    """A tag on a ticket; a row each so the inbox can filter on an index."""

    __tablename__ = "ticket_tags"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)

    def __repr__(self) -> str:
        return f"<TicketTag {self.ticket_id} {self.name}>"


class Message(Model):
    """One message in, out, or an internal note, on any channel."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_ticket_id", "ticket_id", "id"),
        Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(10))
    author_kind: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    sender: Mapped[str | None] = mapped_column(String(320))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = deferred(mapped_column(Text))
    # The provider's id (Message-ID, MessageSid, ...): unique per channel.
    external_id: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    is_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Delivery of an outbound message (channels/delivery.py): how often it was tried, since
    # when a job is sending it (the claim), and when a transient failure is tried again.
    send_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[Agent | None] = relationship("Agent", lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Attachment.id",
    )
    source: Mapped[MessageSource | None] = relationship(
        cascade="all, delete-orphan", lazy="raise_on_sql", uselist=False
    )

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.direction} {self.channel} ticket={self.ticket_id}>"


class MessageSource(Model):
    """The raw bytes a message arrived (or left) as: a mail's source, a webhook's request
    body. Kept apart so message lists stay small, and dropped after
    ``HELPDESK_RAW_RETENTION_DAYS`` (``audit/retention.py``; by ``created_at``)."""

    __tablename__ = "message_sources"
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<MessageSource {self.message_id} {len(self.raw)} bytes>"


class Attachment(Model):
    """A file on a message; the content lives on disk under its SHA-256."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    content_id: Mapped[str | None] = mapped_column(String(255))
    # Where to fetch content that has not been downloaded yet (MMS media).
    source_url: Mapped[str | None] = mapped_column(String(1000))
    message: Mapped[Message] = relationship(back_populates="attachments")

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.filename!r}>"


class Call(Model):
    """A phone call, from Twilio or another phone system."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_calls_customer_started", "customer_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(4))
    from_number: Mapped[str | None] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="ringing")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration: Mapped[int | None] = mapped_column(Integer)
    recording_url: Mapped[str | None] = mapped_column(String(1000))
    meta: Mapped[dict] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<Call {self.provider}:{self.provider_id} {self.status}>"


class TicketEvent(Model):
    """The audit trail: who changed what on a ticket, and when."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id", "ticket_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agent: Mapped[Agent | None] = relationship("Agent", lazy="joined")
    # Lets an event be recorded on a ticket not flushed yet (ingest flushes once).
    ticket: Mapped[Ticket] = relationship(Ticket)

    def __repr__(self) -> str:
        return f"<TicketEvent {self.kind} ticket={self.ticket_id}>"


class TicketRead(Model):
    """When an agent last opened a ticket: the inbox marks newer customer messages unread."""

    __tablename__ = "ticket_reads"
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<TicketRead agent={self.agent_id} ticket={self.ticket_id}>"
