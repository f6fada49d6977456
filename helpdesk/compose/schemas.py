"""API bodies for composing: a new conversation, a forward, a mailbox's signature."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from helpdesk.customers.schemas import Address, Id, Strict
from helpdesk.tickets.schemas import Body, EmailAddress, MessageOut, Subject, TicketOut
from helpdesk.web.openapi import Shape

Signature = Annotated[str, StringConstraints(max_length=2000)]


class ConversationIn(Strict):
    """POST /conversations: write to a customer first, by email or SMS."""

    customer: Id
    channel: Literal["email", "sms"]
    subject: Subject
    body: Body
    # The mailbox or phone number to send from (a channel id); default: the usual one.
    via: Id | None = None
    # One of the customer's addresses (default: their first of the channel's kind).
    to: Address | None = None
    cc: list[EmailAddress] = Field(default_factory=list, max_length=10)
    bcc: list[EmailAddress] = Field(default_factory=list, max_length=10)


class ConversationOut(Shape):
    """The new ticket and its first message."""

    ticket: TicketOut
    message: MessageOut


class ForwardIn(Strict):
    """POST /messages/ID/forward: the message, its files and a note, by email to ``to``."""

    to: EmailAddress
    note: Annotated[str, StringConstraints(max_length=20_000)] = ""


class SignatureIn(Strict):
    """PUT /mailboxes/ID/signature: the text every reply from the mailbox ends with."""

    signature: Signature


class SignatureOut(Shape):
    """A mailbox's signature."""

    id: int
    signature: str | None
