"""API input models for tickets and messages (strict; unknown fields refused), and the
shapes of what the API answers (documented in /api/v1/openapi.json; built by serializers.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.customers.schemas import (
    Address,
    CustomerOut,
    FieldKey,
    FieldValue,
    Id,
    OrderOut,
    Short,
    Strict,
    Tag,
)
from helpdesk.tickets.models import PRIORITIES, STATUSES
from helpdesk.web.openapi import Ref, Shape


def _email(value: str) -> str:
    """A valid email address, normalised (pydantic turns the ValueError into a 422)."""
    try:
        return normalise_email(value)
    except InvalidIdentity as exc:
        raise ValueError(str(exc)) from exc


EmailAddress = Annotated[Address, AfterValidator(_email)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
Status = Literal[STATUSES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]


class TicketIn(Strict):
    """POST /tickets: a ticket opened by an agent or another system on a customer's behalf."""

    customer: Id | None = None
    customer_email: Address | None = None
    customer_phone: Address | None = None
    customer_name: Short | None = None
    subject: Subject
    body: Body | None = None
    channel: Literal["web", "api", "email", "sms", "voice", "chat"] = "web"
    status: Status = "new"
    priority: Priority = "normal"
    team: Id | None = None
    assignee: Id | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    custom_fields: dict[FieldKey, FieldValue] = Field(default_factory=dict, max_length=50)


class TicketPatch(Strict):
    """PATCH /tickets/ID: only the fields sent change."""

    subject: Subject | None = None
    status: Status | None = None
    priority: Priority | None = None
    team: Id | None = None
    assignee: Id | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    # Only the keys sent change; null clears one.
    custom_fields: dict[FieldKey, FieldValue] | None = Field(default=None, max_length=50)


class MessageIn(Strict):
    """POST /tickets/ID/messages: a reply on the ticket's channel, or an internal note."""

    body: Body
    internal: bool = False
    # The newest message id the agent had on screen: a customer message after it makes
    # the reply a 409 "new_messages" (read it first), unless the agent resends without it.
    seen: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    # Answer on another channel the customer has (an email ticket answered by SMS).
    channel: Literal["email", "sms", "chat"] | None = None
    # Further recipients of an email reply (Bcc is sent but written in no header).
    cc: list[EmailAddress] = Field(default_factory=list, max_length=10)
    bcc: list[EmailAddress] = Field(default_factory=list, max_length=10)


class EscalateIn(Strict):
    """POST /tickets/ID/escalate."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


MacroName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MacroBody = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class MacroActions(Strict):
    """What applying a macro changes on the ticket (each optional)."""

    status: Status | None = None
    priority: Priority | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)  # added to the ticket's tags
    assignee: Literal["me"] | Id | None = None


class MacroIn(Strict):
    """POST /macros: a personal macro, or with ``team`` a team macro (leads and admins)."""

    name: MacroName
    body: MacroBody
    team: Id | None = None
    actions: MacroActions = Field(default_factory=MacroActions)


class MacroPatch(Strict):
    """PATCH /macros/ID: only the fields sent change; ``actions`` is replaced as a whole."""

    name: MacroName | None = None
    body: MacroBody | None = None
    actions: MacroActions | None = None


class MacroApplyIn(Strict):
    """POST /tickets/ID/macros/MACRO_ID/apply."""

    send: bool = False
    internal: bool = False
    seen: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None


class BulkReassign(Strict):
    """POST /tickets/bulk: give 1 to 100 tickets to another agent (``assignee``; null
    unassigns) and/or another team; at least one of the two."""

    ids: list[Id] = Field(min_length=1, max_length=100)
    assignee: Id | None = None
    team: Id | None = None

    @model_validator(mode="after")
    def _some_change(self):
        if not {"assignee", "team"} & self.model_fields_set:
            raise ValueError("name an assignee or a team")
        if "team" in self.model_fields_set and self.team is None:
            raise ValueError("team must be a team id")
        return self

    def changes(self) -> dict:
        """The changes for ``services.update_ticket``: only the fields sent."""
        return self.model_dump(include={"assignee", "team"}, exclude_unset=True)


# --- what the API answers ------------------------------------------------------------


class TicketOut(Shape):
    """A ticket (``serializers.ticket_json``)."""

    id: int
    number: int
    subject: str | None
    status: Status
    priority: Priority
    channel: str
    channel_id: int | None
    contact: str | None
    customer: Ref | None
    assignee: Ref | None
    team: Ref | None
    tags: list[str]
    custom_fields: dict[str, Any]
    message_count: int
    created_at: str | None
    updated_at: str | None
    last_message_at: str | None
    last_inbound_at: str | None
    first_response_at: str | None
    solved_at: str | None
    sla: dict[str, Any] | None
    csat: dict[str, Any] | None = None  # the survey answer: {"rating", "comment", "at"}


class EventOut(Shape):
    """An audit-trail entry."""

    id: int
    ticket_id: int
    kind: str
    data: Any
    agent: Ref | None
    created_at: str | None


class TicketDetail(TicketOut):
    """A ticket with its audit trail."""

    events: list[EventOut]


class AttachmentOut(Shape):
    """An attachment's metadata."""

    id: int
    filename: str | None
    content_type: str | None
    size: int | None
    content_id: str | None
    stored: bool
    # Where the content is (GET /attachments/ID, for agents who may see the ticket).
    url: str


class AuthorOut(Shape):
    """Who wrote a message: the kind (customer, agent, bot, system), the agent, the address."""

    kind: str | None
    agent: Ref | None
    address: str | None


class MessageOut(Shape):
    """A message; ``body_html`` is cleaned HTML."""

    id: int
    ticket_id: int
    direction: str
    internal: bool
    channel: str | None
    author: AuthorOut
    subject: str | None
    body_text: str | None
    status: str | None
    error: str | None
    is_auto: bool
    needs_review: bool
    review_reason: str | None
    created_at: str | None
    sent_at: str | None
    attachments: list[AttachmentOut]
    body_html: str | None = None
    # An email reply's further recipients, when it had any.
    cc: list[str] | None = None
    bcc: list[str] | None = None


class TicketsOut(Shape):
    """The tickets a bulk change touched."""

    items: list[TicketOut]


class CallOut(Shape):
    """A phone call."""

    id: int
    provider: str
    provider_id: str | None
    direction: str
    from_: str | None = Field(alias="from")
    to: str | None
    status: str | None
    customer_id: int | None
    ticket_id: int | None
    agent_id: int | None
    started_at: str | None
    answered_at: str | None
    ended_at: str | None
    duration: int | None
    recording_url: str | None
    on_hold: bool = False


class MacroActionsOut(Shape):
    """What applying a macro changes."""

    status: str | None
    priority: str | None
    tags: list[str]
    assignee: str | int | None


class MacroOut(Shape):
    """A macro; ``editable``: whether the caller may change it."""

    id: int
    name: str
    body: str
    scope: Literal["personal", "team"]
    owner: Ref | None
    team: Ref | None
    actions: MacroActionsOut
    created_at: str | None
    updated_at: str | None
    editable: bool


class MacroApplied(Shape):
    """A macro applied: its rendered text, the ticket after, the message sent (or null)."""

    text: str
    ticket: TicketOut
    message: MessageOut | None


class CardOut(Shape):
    """The customer card beside a call or a conversation (customer null: unknown)."""

    customer: CustomerOut | None
    open_tickets: list[TicketOut]
    recent_orders: list[OrderOut]
    last_contact: dict[str, Any] | None
    query: dict[str, Any]


class CallEventOut(Shape):
    """A CTI event applied: the call as it stands."""

    call: CallOut


class NewCallOut(CardOut):
    """A CTI ``newCall``: the caller's card, the call, and the caller's number."""

    call: CallOut
    caller: dict[str, Any]
