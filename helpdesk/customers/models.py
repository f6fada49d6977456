"""The CRM: organizations, customers, their identities, notes and orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

if TYPE_CHECKING:
    from helpdesk.agents.models import Agent

IDENTITY_KINDS = ("email", "phone", "chat")
# What a customer may agree to, each recorded with when and where (Consent).
CONSENT_PURPOSES = ("email_marketing", "sms_marketing", "order_updates")
ORDER_STATUSES = (
    "pending",
    "paid",
    "processing",
    "shipped",
    "delayed",
    "delivered",
    "cancelled",
    "returned",
)


class Organization(Model):
    """A company our customers work for; owns email domains and an account manager."""

    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    account_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    industry: Mapped[str | None] = mapped_column(String(100))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    custom_fields: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Loaded on demand: every customer load joins its organization, and the
    # domains matter only on the organization's own screens.
    domains: Mapped[list[OrganizationDomain]] = relationship(
        back_populates="organization", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class OrganizationDomain(Model):
    """An email domain that belongs to one organization."""

    __tablename__ = "organization_domains"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    organization: Mapped[Organization] = relationship(back_populates="domains")

    def __repr__(self) -> str:
        return f"<OrganizationDomain {self.domain}>"


class Customer(Model):
    """A person who contacts support, whatever the channel."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(200))
    key_person: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(10), index=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(10))
    # jsonb on PostgreSQL (migration h16c0001): the customer list filters on them (@>).
    tags: Mapped[list] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=list)
    custom_fields: Mapped[dict] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )
    # The agent who looks after this customer; None: the organization's account manager.
    account_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100), index=True)
    country: Mapped[str | None] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # An address typed into the chat and not (yet) confirmed: shown to agents as
    # unverified, never an identity (so never matched by inbound mail or the order bot),
    # never mailed anything but the confirmation link.
    unverified_email: Mapped[str | None] = mapped_column(String(320))

    organization: Mapped[Organization | None] = relationship(lazy="joined")
    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Identity.id",
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Consent.purpose",
    )

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name!r}>"

    def values(self, kind: str) -> list[str]:
        """The customer's identities of one kind, oldest first."""
        return [i.value for i in self.identities if i.kind == kind]


class Identity(Model):
    """One normalised address (email, E.164 phone, chat visitor) of one customer.

    Unique per kind: this is the index every inbound message is matched on.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customer: Mapped[Customer] = relationship(back_populates="identities")

    def __repr__(self) -> str:
        return f"<Identity {self.kind}:{self.value} customer={self.customer_id}>"


class Consent(Model):
    """One purpose a customer agreed to or refused, with when and where that was said.

    One row per customer and purpose (CONSENT_PURPOSES); a change overwrites the row and
    the audit log keeps what it was before.
    """

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(30))
    granted: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship(back_populates="consents")

    def __repr__(self) -> str:
        return f"<Consent {self.customer_id} {self.purpose} {self.granted}>"


class Note(Model):
    """A free-text note an agent keeps on a customer."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_customer_created", "customer_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[Agent | None] = relationship("Agent", lazy="joined")

    def __repr__(self) -> str:
        return f"<Note {self.id} customer={self.customer_id}>"


class Order(Model):
    """A purchase, upserted by the shop or ERP under its own order number."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_ordered", "customer_id", "ordered_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    expected_delivery: Mapped[date | None] = mapped_column(Date)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderLine.id",
    )

    def __repr__(self) -> str:
        return f"<Order {self.number} {self.status}>"


class OrderLine(Model):
    """One product line of an order."""

    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    order: Mapped[Order] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<OrderLine {self.sku} x{self.quantity}>"


class OrderNotification(Model):
    """One status change of an order that an opted-in customer is told about
    (``tickets/order_updates.py``), written in the transaction of the change.

    ``sequence`` counts the order's notified changes (1, 2, ...): a change is written as
    the latest row's sequence + 1, and ``(order_id, sequence)`` is unique, so two writers
    that saw the same latest row cannot both record a change; the loser records nothing.
    ``outcome``: ``pending`` until the job decides, then ``queued`` (the message went to
    delivery: its own status says how that went) or ``skipped`` with the ``reason``.
    """

    __tablename__ = "order_notifications"
    __table_args__ = (UniqueConstraint("order_id", "sequence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(10))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OrderNotification {self.order_id}#{self.sequence} {self.status} {self.outcome}>"
