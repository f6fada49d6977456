"""The one channel-neutral shape every adapter turns what arrived into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class InboundAttachment:
    """A file that came with a message; ``content`` or a ``source_url`` to fetch it later."""

    filename: str
    content_type: str = "application/octet-stream"
    content: bytes | None = None
    content_id: str | None = None
    source_url: str | None = None


@dataclass
class InboundMessage:
    """A message from a customer, as any channel adapter hands it to ``ingest``.

    ``sender_kind``/``sender`` name the identity (``email``, ``phone``, ``chat``);
    ``external_id`` is the provider's id (Message-ID, MessageSid) that makes a
    retry harmless; ``references`` are ids of earlier messages this one answers;
    ``ticket_number`` is an explicit ``[#123]`` reference.
    """

    channel: str
    sender_kind: str
    sender: str
    text: str = ""
    html: str | None = None
    sender_name: str | None = None
    subject: str | None = None
    recipient: str | None = None
    external_id: str | None = None
    channel_id: int | None = None
    references: list[str] = field(default_factory=list)
    ticket_number: int | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    raw: bytes | None = None
    received_at: datetime | None = None
    is_auto: bool = False
    review_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # What else the message tells us, applied by ingest in the same transaction:
    # ``undelivered``: external ids of our messages a delivery report (a bounce) names as
    # not delivered, for ``undelivered_reason``; ``opt_out``: an SMS STOP (True) or START.
    undelivered: list[str] = field(default_factory=list)
    undelivered_reason: str = ""
    opt_out: bool | None = None
    # ``html`` already cleaned with ``tickets.html.clean_html`` (an IMAP poll cleans mail
    # in worker processes while it writes the previous batch); None: ingest cleans it.
    # Only code that ran clean_html on ``html`` itself may set it: it is stored as is.
    safe_html: str | None = None
