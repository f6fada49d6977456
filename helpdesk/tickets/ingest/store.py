"""The rows of one inbound message: the message, its attachments and its raw source."""

from __future__ import annotations

from datetime import datetime

from helpdesk.channels.inbound import InboundMessage
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.html import clean_html, html_to_text
from helpdesk.tickets.models import Attachment, Message, MessageSource, Ticket

MAX_TEXT = 200_000


def store_message(
    inbound: InboundMessage, ticket: Ticket, review: list[str], now: datetime
) -> Message:
    """The message row, its attachments and its raw source."""
    safe_html = inbound.safe_html if inbound.safe_html is not None else clean_html(inbound.html)
    text = inbound.text or html_to_text(safe_html)
    if len(text) > MAX_TEXT:
        review.append(f"text cut to {MAX_TEXT} characters; the raw source has all of it")
        text = text[:MAX_TEXT]
    message = Message(
        ticket=ticket,
        direction="in",
        channel=inbound.channel,
        author_kind="customer",
        sender=inbound.sender[:320] if inbound.sender else None,
        recipient=(inbound.recipient or "")[:320] or None,
        subject=(inbound.subject or "")[:300] or None,
        body_text=text,
        body_html=safe_html,
        external_id=(inbound.external_id or "")[:500] or None,
        status="received",
        is_auto=inbound.is_auto,
        needs_review=bool(review),
        review_reason="; ".join(review) or None,
        meta=dict(inbound.meta),
        created_at=now,
        attachments=[],
    )
    if inbound.references:
        message.meta["references"] = inbound.references[-50:]
    for item in inbound.attachments:
        digest = attachments.store(item.content) if item.content is not None else None
        message.attachments.append(
            Attachment(
                filename=(item.filename or "attachment")[:255],
                content_type=(item.content_type or "application/octet-stream")[:255],
                size=len(item.content) if item.content is not None else None,
                sha256=digest,
                content_id=(item.content_id or "")[:255] or None,
                source_url=(item.source_url or "")[:1000] or None,
            )
        )
    if inbound.raw is not None:
        message.source = MessageSource(raw=inbound.raw)
    db.session.add(message)  # flushed with the ticket and customer updates, in one go
    return message
